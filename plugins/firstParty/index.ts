import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VerifiedPluginPackage } from '../../core/plugins/types.js';
import { validateManifest } from '../package/index.js';
import { toVerifiedPackage } from '../packageVerifier.js';

// First-party plugins are folders beside the compiled code's source tree, one per plugin.
const FIRST_PARTY_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../plugins/firstParty');

/**
 * The plugins that ship with the appliance, read from their folders (manifest.json and
 * the entry script). They are trusted because they ship with it, and still run in the
 * sandbox like any other plugin.
 */
export function loadFirstPartyPlugins(dir = FIRST_PARTY_DIR): VerifiedPluginPackage[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => {
      const folder = path.join(dir, entry.name);
      const manifestBytes = fs.readFileSync(path.join(folder, 'manifest.json'));
      const validation = validateManifest(JSON.parse(manifestBytes.toString('utf8')));
      if (!validation.ok)
        throw new Error(`first-party plugin ${entry.name}: ${validation.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
      const manifest = validation.manifest;
      const files = new Map([
        ['manifest.json', manifestBytes],
        [manifest.entry, fs.readFileSync(path.join(folder, manifest.entry))],
      ]);
      return toVerifiedPackage(manifest, files, null, null);
    });
}
