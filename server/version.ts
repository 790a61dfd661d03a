import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let version: string | undefined;

/** The appliance's own version, from package.json; plugins declare the oldest they run on. */
export function applianceVersion(): string {
  version ??= (
    JSON.parse(fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  return version;
}
