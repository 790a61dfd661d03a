/**
 * The admin web UI: the built assets under dist/admin-ui, served by the appliance itself so
 * it works on an air-gapped network. Everything is read once at start and kept in memory
 * (a few hundred kilobytes). The page may load only its own scripts, styles and the API:
 * the content security policy forbids inline scripts except the import map, by its hash.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Hapi from '@hapi/hapi';

export const ADMIN_UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../admin-ui');

/** The console's operations by SHA-256, written by its build from its .graphql documents. */
export const CONSOLE_OPERATIONS_FILE = path.join(ADMIN_UI_DIR, 'persisted-operations.json');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** The bare module names the compiled UI imports, as the build copied them (admin-ui/build.mjs). */
const IMPORT_MAP = JSON.stringify({
  imports: {
    preact: '/ui/vendor/preact.module.js',
    'preact/hooks': '/ui/vendor/hooks.module.js',
    'preact/jsx-runtime': '/ui/vendor/jsxRuntime.module.js',
  },
});

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function securityHeaders(reply: Hapi.ResponseObject, csp: string): Hapi.ResponseObject {
  return reply
    .header('content-security-policy', csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin');
}

/** Routes for `/` (the page) and `/ui/...` (its assets); an unbuilt UI is a clear 503. */
export function adminUiRoutes(dir = ADMIN_UI_DIR): Hapi.ServerRoute[] {
  const assets = new Map<string, Asset>();
  const walk = (at: string) => {
    for (const entry of fs.existsSync(at) ? fs.readdirSync(at, { withFileTypes: true }) : []) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (TYPES[path.extname(entry.name)] && !entry.name.endsWith('.map')) {
        const body = fs.readFileSync(full);
        assets.set(path.relative(dir, full).split(path.sep).join('/'), {
          body,
          type: TYPES[path.extname(entry.name)]!,
          etag: createHash('sha256').update(body).digest('hex').slice(0, 32),
        });
      }
    }
  };
  walk(dir);
  const template = assets.get('index.html')?.body.toString('utf8');
  const importMap = `<script type="importmap">${IMPORT_MAP}</script>`;
  const mapHash = createHash('sha256').update(IMPORT_MAP).digest('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${mapHash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  const page = template?.replace('<!--import-map-->', importMap);

  return [
    {
      method: 'GET',
      path: '/',
      handler: (_request, h) => {
        if (!page) return h.response('The admin UI is not built: run npm run build.').code(503).type('text/plain');
        return securityHeaders(h.response(page).type(TYPES['.html']!).header('cache-control', 'no-store'), csp);
      },
    },
    {
      method: 'GET',
      path: '/ui/{file*}',
      handler: (request, h) => {
        const asset = assets.get(String(request.params['file'] ?? ''));
        if (!asset)
          return h.response({ errors: [{ message: 'no such file in the admin UI', extensions: { code: 'NOT_FOUND' } }] }).code(404);
        const reply = h.response(asset.body).type(asset.type).etag(asset.etag).header('cache-control', 'no-cache');
        return securityHeaders(reply, csp);
      },
    },
  ];
}
