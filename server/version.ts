import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The appliance's own version, from package.json; plugins declare the oldest they run on. */
export const APPLIANCE_VERSION: string = (
  JSON.parse(fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8')) as { version: string }
).version;
