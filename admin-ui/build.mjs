// The admin UI's build after tsc: the static page and styles, and Preact's own ES modules,
// copied next to the compiled scripts so the appliance serves everything from one folder
// (dist/admin-ui) with no CDN and no bundler.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, '..', 'dist', 'admin-ui');
const require = createRequire(import.meta.url);
const preact = path.dirname(require.resolve('preact/package.json'));

fs.mkdirSync(path.join(out, 'vendor'), { recursive: true });
// The manifest of the console's operations by SHA-256, which the appliance serves them from (server/adminUi.ts).
fs.copyFileSync(path.join(here, 'src', 'gql', 'persisted-documents.json'), path.join(out, 'persisted-operations.json'));
fs.cpSync(path.join(here, 'static'), out, { recursive: true });
for (const file of ['dist/preact.module.js', 'hooks/dist/hooks.module.js', 'jsx-runtime/dist/jsxRuntime.module.js']) {
  // The source-map comment would make browsers ask for maps that are not shipped.
  const text = fs.readFileSync(path.join(preact, file), 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/m, '\n');
  fs.writeFileSync(path.join(out, 'vendor', path.basename(file)), text);
}
