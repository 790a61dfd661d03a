import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { auditableConfig, loadConfig } from '../../core/config.js';

test('plugin, key and sandbox options default under the data directory and to safe values', (t) => {
  const config = loadConfig({ SWITCHYARD_DATA_DIR: '/srv/sy' });
  t.is(config.pluginTrustStore, path.resolve('/srv/sy/plugin-trust-store.pem'));
  t.is(config.masterKeyFile, path.resolve('/srv/sy/master.key'));
  t.false(config.allowUnsignedPlugins);
  t.is(config.sandboxMaxMemoryMb, 128);
  t.is(config.extraCaFile, undefined);
  t.deepEqual(config.proxy, {});
  t.true(Object.isFrozen(config));
});

test('SWITCHYARD_ALLOW_UNSIGNED_PLUGINS takes true/false/1/0 and refuses anything else by name', (t) => {
  t.true(loadConfig({ SWITCHYARD_ALLOW_UNSIGNED_PLUGINS: 'true' }).allowUnsignedPlugins);
  t.true(loadConfig({ SWITCHYARD_ALLOW_UNSIGNED_PLUGINS: '1' }).allowUnsignedPlugins);
  t.false(loadConfig({ SWITCHYARD_ALLOW_UNSIGNED_PLUGINS: '0' }).allowUnsignedPlugins);
  t.throws(() => loadConfig({ SWITCHYARD_ALLOW_UNSIGNED_PLUGINS: 'yes' }), {
    message: 'SWITCHYARD_ALLOW_UNSIGNED_PLUGINS must be true or false, got "yes"',
  });
});

test('proxy settings come from HTTPS_PROXY, HTTP_PROXY and NO_PROXY (either case) and must be http(s) URLs', (t) => {
  t.deepEqual(loadConfig({ https_proxy: 'http://proxy.corp:3128', NO_PROXY: '.corp,localhost' }).proxy, {
    httpsProxy: 'http://proxy.corp:3128',
    noProxy: '.corp,localhost',
  });
  t.throws(() => loadConfig({ HTTPS_PROXY: 'proxy.corp:3128' }), { message: /HTTPS_PROXY must be/ });
  t.throws(() => loadConfig({ HTTP_PROXY: 'socks5://proxy.corp:1080' }), { message: 'HTTP_PROXY must be an http:// or https:// URL' });
});

test('sandbox ceilings are bounded: below the isolate minimum is refused', (t) => {
  t.is(loadConfig({ SWITCHYARD_SANDBOX_MAX_MEMORY_MB: '8' }).sandboxMaxMemoryMb, 8);
  t.throws(() => loadConfig({ SWITCHYARD_SANDBOX_MAX_MEMORY_MB: '7' }), { message: /SWITCHYARD_SANDBOX_MAX_MEMORY_MB/ });
  t.throws(() => loadConfig({ SWITCHYARD_SANDBOX_POOL_SIZE: '0' }), { message: /SWITCHYARD_SANDBOX_POOL_SIZE/ });
});

test('TLS files go together and must exist; the audited configuration names them, not their contents', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const [cert, key] = [path.join(dir, 'server.pem'), path.join(dir, 'server.key')];
  fs.writeFileSync(cert, 'certificate');
  fs.writeFileSync(key, 'secret key');
  t.is(loadConfig({}).tls, null);
  t.throws(() => loadConfig({ SWITCHYARD_TLS_CERT_FILE: cert }), {
    message: /SWITCHYARD_TLS_CERT_FILE and SWITCHYARD_TLS_KEY_FILE go together; only the certificate is set/,
  });
  t.throws(() => loadConfig({ SWITCHYARD_TLS_CERT_FILE: cert, SWITCHYARD_TLS_KEY_FILE: path.join(dir, 'missing.key') }), {
    message: `SWITCHYARD_TLS_KEY_FILE: ${path.join(dir, 'missing.key')} does not exist`,
  });
  const config = loadConfig({ SWITCHYARD_TLS_CERT_FILE: cert, SWITCHYARD_TLS_KEY_FILE: key });
  t.deepEqual(config.tls, { certFile: cert, keyFile: key });
  const audited = auditableConfig(config);
  t.like(audited, { tlsCertFile: cert, tlsKeyFile: key });
  t.false(JSON.stringify(audited).includes('secret key'));
});

test('the OTLP endpoint comes from SWITCHYARD_OTLP_ENDPOINT or the standard variable, must be http(s), and is audited without credentials', (t) => {
  t.is(loadConfig({}).otlpEndpoint, null);
  t.is(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).otlpEndpoint, 'http://collector:4318');
  t.is(
    loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://other:4318', SWITCHYARD_OTLP_ENDPOINT: 'https://collector:4318' }).otlpEndpoint,
    'https://collector:4318',
  );
  t.throws(() => loadConfig({ SWITCHYARD_OTLP_ENDPOINT: 'grpc://collector:4317' }), {
    message: 'SWITCHYARD_OTLP_ENDPOINT must be an http:// or https:// URL',
  });
  t.throws(() => loadConfig({ SWITCHYARD_OTLP_ENDPOINT: 'not a url' }), { message: /SWITCHYARD_OTLP_ENDPOINT must be a URL/ });
  t.is(auditableConfig(loadConfig({ SWITCHYARD_OTLP_ENDPOINT: 'https://user:pw@collector:4318' })).otlpEndpoint, 'https://collector:4318/');
});
