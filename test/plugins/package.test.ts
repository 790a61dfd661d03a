import test from 'ava';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import forge from 'node-forge';
import { Header, type HeaderData } from 'tar';
import {
  canonicalJson,
  certificateFingerprint,
  encodeSignature,
  generateCa,
  generatePublisherKey,
  MAX_FILES,
  MAX_UNPACKED_BYTES,
  packDirectory,
  packFiles,
  PackageError,
  readPackage,
  SIGNATURE_FILE,
  signFiles,
  signPackage,
  validateManifest,
  verifyPluginPackage,
  type KeyAndCertificate,
  type PackageRefusal,
  type PackageSignature,
  type VerificationResult,
  type VerifyOptions,
} from '../../plugins/package/index.js';

const DAY_MS = 86_400_000;
const APPLIANCE_VERSION = '0.4.0';

const manifest = {
  name: 'acme-weather',
  version: '1.2.0',
  publisher: 'Acme Plugins',
  minApplianceVersion: '0.3.0',
  actions: [
    {
      name: 'forecast',
      description: 'Forecast for a city',
      inputSchema: { type: 'object', required: ['city'], properties: { city: { type: 'string' } } },
      outputSchema: { type: 'object', properties: { celsius: { type: 'number' } } },
    },
  ],
  permissions: { hosts: ['api.weather.example:443', '*.cdn.weather.example'], credentialTypes: ['apiKey'], rawSecretAccess: false },
  resources: { memoryMb: 64, timeoutMs: 5000 },
};

interface Keys {
  ca: KeyAndCertificate;
  otherCa: KeyAndCertificate;
  publisher: KeyAndCertificate;
  rogue: KeyAndCertificate;
  expired: KeyAndCertificate;
  notYetValid: KeyAndCertificate;
}
let keys: Keys;

test.before(() => {
  const ca = generateCa({ commonName: 'Switchyard Test Root', organizationName: 'Switchyard' });
  const otherCa = generateCa({ commonName: 'Some Other Root' });
  const now = Date.now();
  keys = {
    ca,
    otherCa,
    publisher: generatePublisherKey({ commonName: 'Acme Plugins', organizationName: 'Acme Corp', ca }),
    rogue: generatePublisherKey({ commonName: 'Acme Plugins', ca: otherCa }),
    expired: generatePublisherKey({
      commonName: 'Acme Plugins',
      ca,
      notBefore: new Date(now - 400 * DAY_MS),
      notAfter: new Date(now - DAY_MS),
    }),
    notYetValid: generatePublisherKey({
      commonName: 'Acme Plugins',
      ca,
      notBefore: new Date(now + DAY_MS),
      notAfter: new Date(now + 400 * DAY_MS),
    }),
  };
});

const sorted = (files: ReadonlyMap<string, Buffer>): [string, Buffer][] => [...files].sort(([a], [b]) => (a < b ? -1 : 1));
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value, null, 2));

function pluginFiles(manifestValue: unknown = manifest): Map<string, Buffer> {
  return new Map([
    ['manifest.json', json(manifestValue)],
    ['plugin.js', Buffer.from('export const forecast = (input) => ({ celsius: 21 });\n')],
    ['lib/units.js', Buffer.from('export const toFahrenheit = (c) => c * 1.8 + 32;\n')],
  ]);
}

const signedWith = (signer: KeyAndCertificate, files = pluginFiles()): Buffer =>
  packFiles(signFiles(files, signer.privateKeyPem, signer.certificatePem));

const verify = (pkg: Buffer, options: Partial<VerifyOptions> = {}): Promise<VerificationResult> =>
  verifyPluginPackage(pkg, { trustStore: [keys.ca.certificatePem], applianceVersion: APPLIANCE_VERSION, ...options });

/** A package rebuilt from `pkg` after `change` edits its files, without re-signing. */
async function tampered(pkg: Buffer, change: (files: Map<string, Buffer>) => void): Promise<Buffer> {
  const { files } = await readPackage(pkg);
  change(files);
  return packFiles(files);
}

function refusal(result: VerificationResult): PackageRefusal {
  if (result.ok) throw new Error('expected the package to be refused');
  return result;
}

/** A gzipped tar built entry by entry, so tests can write what `packFiles` refuses to. */
function rawPackage(entries: { header: HeaderData; data?: Buffer }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const { header, data = Buffer.alloc(0) } of entries) {
    const block = Buffer.alloc(512);
    new Header({ mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), size: data.length, ...header }).encode(block, 0);
    blocks.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

async function archiveError(pkg: Buffer): Promise<PackageError> {
  const err = await readPackage(pkg).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof PackageError)) throw new Error(`expected a PackageError, got ${String(err)}`);
  return err;
}

// --- keys and certificates ------------------------------------------------------------

test('generated certificates use RSA-3072 and SHA-256, and only the CA is a CA', (t) => {
  const ca = forge.pki.certificateFromPem(keys.ca.certificatePem);
  const publisher = forge.pki.certificateFromPem(keys.publisher.certificatePem);
  for (const cert of [ca, publisher]) {
    t.is(cert.signatureOid, forge.pki.oids.sha256WithRSAEncryption as string);
    t.is((cert.publicKey as forge.pki.rsa.PublicKey).n.bitLength(), 3072);
  }
  t.true((ca.getExtension('basicConstraints') as { cA: boolean }).cA);
  t.false((publisher.getExtension('basicConstraints') as { cA: boolean }).cA);
  t.true(ca.verify(publisher));
  t.is(publisher.issuer.getField('CN').value, 'Switchyard Test Root');
});

test('signing refuses a private key that does not match the certificate', (t) => {
  const err = t.throws(() => signPackage(pluginFiles(), keys.rogue.privateKeyPem, keys.publisher.certificatePem), {
    instanceOf: PackageError,
  });
  t.is(err?.code, 'INVALID_KEY_MATERIAL');
});

test('signing refuses a package without manifest.json', (t) => {
  const files = pluginFiles();
  files.delete('manifest.json');
  const err = t.throws(() => signPackage(files, keys.publisher.privateKeyPem, keys.publisher.certificatePem), { instanceOf: PackageError });
  t.is(err?.code, 'MISSING_MANIFEST');
});

test('SIGNATURE.json lists every other file and the canonical manifest digest', async (t) => {
  const { files } = await readPackage(signedWith(keys.publisher));
  const signature = JSON.parse((files.get(SIGNATURE_FILE) as Buffer).toString()) as PackageSignature;
  t.is(signature.version, 1);
  t.is(signature.algorithm, 'RSASSA-PSS-SHA256');
  t.deepEqual(Object.keys(signature.files), ['lib/units.js', 'manifest.json', 'plugin.js']);
  t.is(
    signature.files['plugin.js'],
    forge.md.sha256
      .create()
      .update((files.get('plugin.js') as Buffer).toString('binary'))
      .digest()
      .toHex(),
  );
  t.is(signature.manifestSha256, forge.md.sha256.create().update(canonicalJson(manifest), 'utf8').digest().toHex());
  t.deepEqual(signature.certificates, [keys.publisher.certificatePem.trim()]);
});

// --- the good path --------------------------------------------------------------------

test('a package signed by a trusted publisher verifies', async (t) => {
  const result = await verify(signedWith(keys.publisher));
  if (!result.ok || !result.signed) return t.fail(JSON.stringify(result));
  t.is(result.manifest.name, 'acme-weather');
  t.is(result.manifest.entry, 'plugin.js');
  t.deepEqual(result.manifest.permissions, manifest.permissions);
  t.deepEqual(result.manifest.resources, { memoryMb: 64, timeoutMs: 5000 });
  t.is(result.publisherFingerprint, certificateFingerprint(forge.pki.certificateFromPem(keys.publisher.certificatePem)));
  t.regex(result.publisherFingerprint, /^[0-9a-f]{64}$/);
  t.is(result.publisherCommonName, 'Acme Plugins');
  t.is(result.publisherOrganization, 'Acme Corp');
  t.deepEqual([...result.files.keys()].sort(), ['SIGNATURE.json', 'lib/units.js', 'manifest.json', 'plugin.js']);
});

test('the manifest publisher may match the certificate organizationName', async (t) => {
  const result = await verify(signedWith(keys.publisher, pluginFiles({ ...manifest, publisher: 'Acme Corp' })));
  t.true(result.ok);
});

test('the appliance may be newer than minApplianceVersion, compared numerically', async (t) => {
  const pkg = signedWith(keys.publisher, pluginFiles({ ...manifest, minApplianceVersion: '0.9.0' }));
  t.true((await verify(pkg, { applianceVersion: '0.10.0' })).ok);
  t.true((await verify(pkg, { applianceVersion: '0.9.0' })).ok);
});

// --- the signature matrix -------------------------------------------------------------

test('UNSIGNED: a package without SIGNATURE.json', async (t) => {
  const r = refusal(await verify(packFiles(pluginFiles())));
  t.is(r.code, 'UNSIGNED');
  t.is(r.reason, 'the package has no SIGNATURE.json');
});

test('MODIFIED: a listed file whose content changed', async (t) => {
  const pkg = await tampered(signedWith(keys.publisher), (files) => files.set('plugin.js', Buffer.from('fetch("https://evil.example")')));
  const r = refusal(await verify(pkg));
  t.is(r.code, 'MODIFIED');
  t.is(r.path, 'plugin.js');
  t.is(r.reason, '"plugin.js" has been modified since the package was signed');
});

test('MODIFIED: a changed manifest', async (t) => {
  const pkg = await tampered(signedWith(keys.publisher), (files) =>
    files.set('manifest.json', json({ ...manifest, permissions: { ...manifest.permissions, rawSecretAccess: true } })),
  );
  const r = refusal(await verify(pkg));
  t.is(r.code, 'MODIFIED');
  t.is(r.path, 'manifest.json');
});

test('MODIFIED: a listed file that is missing', async (t) => {
  const pkg = await tampered(signedWith(keys.publisher), (files) => files.delete('lib/units.js'));
  const r = refusal(await verify(pkg));
  t.is(r.code, 'MODIFIED');
  t.is(r.path, 'lib/units.js');
  t.is(r.reason, '"lib/units.js" is listed in SIGNATURE.json but missing from the package');
});

test('EXTRA_FILE: a file added after signing', async (t) => {
  const pkg = await tampered(signedWith(keys.publisher), (files) => files.set('lib/extra.js', Buffer.from('// added')));
  const r = refusal(await verify(pkg));
  t.is(r.code, 'EXTRA_FILE');
  t.is(r.path, 'lib/extra.js');
  t.is(r.reason, '"lib/extra.js" is not listed in SIGNATURE.json; it was added after signing');
});

test('UNTRUSTED_PUBLISHER: a certificate from a CA outside the trust store', async (t) => {
  const r = refusal(await verify(signedWith(keys.rogue)));
  t.is(r.code, 'UNTRUSTED_PUBLISHER');
  t.regex(r.reason, /^certificate "Acme Plugins" does not chain to a trusted CA: Certificate is not trusted\.$/);
});

test('UNTRUSTED_PUBLISHER: the same package verifies once its CA is trusted', async (t) => {
  const result = await verify(signedWith(keys.rogue), { trustStore: [keys.ca.certificatePem, keys.otherCa.certificatePem] });
  t.true(result.ok);
});

test('UNTRUSTED_PUBLISHER: the manifest names another publisher than the certificate', async (t) => {
  const r = refusal(await verify(signedWith(keys.publisher, pluginFiles({ ...manifest, publisher: 'Globex' }))));
  t.is(r.code, 'UNTRUSTED_PUBLISHER');
  t.is(r.path, 'publisher');
  t.is(r.reason, 'the manifest names publisher "Globex" but the package is signed by "Acme Plugins" / "Acme Corp"');
});

test('UNTRUSTED_PUBLISHER: a package signed directly with the CA key', async (t) => {
  const r = refusal(await verify(signedWith(keys.ca, pluginFiles({ ...manifest, publisher: 'Switchyard Test Root' }))));
  t.is(r.code, 'UNTRUSTED_PUBLISHER');
  t.regex(r.reason, /is a CA certificate/);
});

test('CERT_EXPIRED: an expired publisher certificate', async (t) => {
  const r = refusal(await verify(signedWith(keys.expired)));
  t.is(r.code, 'CERT_EXPIRED');
  const notAfter = forge.pki.certificateFromPem(keys.expired.certificatePem).validity.notAfter;
  t.is(r.reason, `certificate "Acme Plugins" expired on ${notAfter.toISOString()}`);
});

test('CERT_EXPIRED: a publisher certificate that is not yet valid', async (t) => {
  const r = refusal(await verify(signedWith(keys.notYetValid)));
  t.is(r.code, 'CERT_EXPIRED');
  const notBefore = forge.pki.certificateFromPem(keys.notYetValid.certificatePem).validity.notBefore;
  t.is(r.reason, `certificate "Acme Plugins" is not valid until ${notBefore.toISOString()}`);
});

test('CERT_EXPIRED: validity is judged at the given time', async (t) => {
  t.true((await verify(signedWith(keys.notYetValid), { now: new Date(Date.now() + 2 * DAY_MS) })).ok);
  t.is(refusal(await verify(signedWith(keys.publisher), { now: new Date(Date.now() + 800 * DAY_MS) })).code, 'CERT_EXPIRED');
});

/** `pkg` with its SIGNATURE.json replaced by `edit` of the parsed original. */
async function withSignature(pkg: Buffer, edit: (signature: PackageSignature) => unknown): Promise<Buffer> {
  return tampered(pkg, (files) => {
    const signature = JSON.parse((files.get(SIGNATURE_FILE) as Buffer).toString()) as PackageSignature;
    files.set(SIGNATURE_FILE, json(edit(signature)));
  });
}

test('BAD_SIGNATURE: a tampered signature value', async (t) => {
  const pkg = await withSignature(signedWith(keys.publisher), (s) => {
    const bytes = Buffer.from(s.signature, 'base64');
    bytes[10] = (bytes[10] as number) ^ 0xff;
    return { ...s, signature: bytes.toString('base64') };
  });
  const r = refusal(await verify(pkg));
  t.is(r.code, 'BAD_SIGNATURE');
  t.is(r.reason, 'the signature in SIGNATURE.json does not verify with the key of certificate "Acme Plugins"');
});

test('BAD_SIGNATURE: a file list rewritten to match a modified file', async (t) => {
  const evil = Buffer.from('fetch("https://evil.example")');
  const pkg = await tampered(signedWith(keys.publisher), (files) => {
    files.set('plugin.js', evil);
    const signature = JSON.parse((files.get(SIGNATURE_FILE) as Buffer).toString()) as PackageSignature;
    signature.files['plugin.js'] = forge.md.sha256.create().update(evil.toString('binary')).digest().toHex();
    files.set(SIGNATURE_FILE, encodeSignature(signature));
  });
  const r = refusal(await verify(pkg));
  t.is(r.code, 'BAD_SIGNATURE');
});

test('BAD_SIGNATURE: a truncated signature and a malformed SIGNATURE.json', async (t) => {
  const truncated = await withSignature(signedWith(keys.publisher), (s) => ({ ...s, signature: s.signature.slice(0, 40) }));
  t.is(refusal(await verify(truncated)).code, 'BAD_SIGNATURE');
  const noCertificates = await withSignature(signedWith(keys.publisher), (s) => ({ ...s, certificates: [] }));
  const r = refusal(await verify(noCertificates));
  t.is(r.code, 'BAD_SIGNATURE');
  t.is(r.reason, 'SIGNATURE.json is malformed: certificates must NOT have fewer than 1 items');
  const notJson = await tampered(signedWith(keys.publisher), (files) => files.set(SIGNATURE_FILE, Buffer.from('{')));
  t.regex(refusal(await verify(notJson)).reason, /^SIGNATURE\.json is not valid JSON/);
});

test('UNTRUSTED_PUBLISHER: a certificate chain swapped for another publisher', async (t) => {
  const pkg = await withSignature(signedWith(keys.publisher), (s) => ({ ...s, certificates: [keys.rogue.certificatePem] }));
  t.is(refusal(await verify(pkg)).code, 'UNTRUSTED_PUBLISHER');
});

test('INVALID_MANIFEST: the problem is named by its path', async (t) => {
  const actions = [manifest.actions[0], { ...manifest.actions[0], name: 'Forecast!' }];
  const r = refusal(await verify(signedWith(keys.publisher, pluginFiles({ ...manifest, actions }))));
  t.is(r.code, 'INVALID_MANIFEST');
  t.is(r.path, 'actions[1].name');
  t.is(
    r.reason,
    'actions[1].name: must start with a lowercase letter and contain only letters, digits, "_" and "-" (at most 64 characters)',
  );
});

test('INVALID_MANIFEST: an entry script that is not in the package', async (t) => {
  const r = refusal(await verify(signedWith(keys.publisher, pluginFiles({ ...manifest, entry: 'main.js' }))));
  t.is(r.code, 'INVALID_MANIFEST');
  t.is(r.reason, 'entry: the entry script "main.js" is not in the package');
});

test('INCOMPATIBLE: minApplianceVersion newer than the appliance', async (t) => {
  const r = refusal(
    await verify(signedWith(keys.publisher, pluginFiles({ ...manifest, minApplianceVersion: '0.10.0' })), { applianceVersion: '0.9.3' }),
  );
  t.is(r.code, 'INCOMPATIBLE');
  t.is(r.reason, 'the plugin needs appliance 0.10.0 or newer; this appliance is 0.9.3');
});

test('a malformed appliance version or trust store is a caller error', async (t) => {
  const pkg = signedWith(keys.publisher);
  const badVersion = await t.throwsAsync(verify(pkg, { applianceVersion: 'v1' }), { instanceOf: PackageError });
  t.is(badVersion?.code, 'INVALID_OPTION');
  const badStore = await t.throwsAsync(verify(pkg, { trustStore: ['not a certificate'] }), { instanceOf: PackageError });
  t.is(badStore?.code, 'INVALID_KEY_MATERIAL');
});

// --- allowUnsigned --------------------------------------------------------------------

test('allowUnsigned accepts an unsigned package and says it is unsigned', async (t) => {
  const result = await verify(packFiles(pluginFiles()), { allowUnsigned: true });
  if (!result.ok) return t.fail(result.reason);
  t.false(result.signed);
  t.is(result.manifest.name, 'acme-weather');
});

test('allowUnsigned still checks the manifest of an unsigned package', async (t) => {
  const r = refusal(await verify(packFiles(pluginFiles({ ...manifest, version: '1.2' })), { allowUnsigned: true }));
  t.is(r.code, 'INVALID_MANIFEST');
  t.is(r.path, 'version');
});

test('allowUnsigned still refuses a signed package that was modified or badly signed', async (t) => {
  const modified = await tampered(signedWith(keys.publisher), (files) => files.set('plugin.js', Buffer.from('// changed')));
  t.is(refusal(await verify(modified, { allowUnsigned: true })).code, 'MODIFIED');
  t.is(refusal(await verify(signedWith(keys.rogue), { allowUnsigned: true })).code, 'UNTRUSTED_PUBLISHER');
  t.is(refusal(await verify(signedWith(keys.expired), { allowUnsigned: true })).code, 'CERT_EXPIRED');
});

// --- the archive ----------------------------------------------------------------------

test('packing is deterministic and reading returns the same files', async (t) => {
  const files = pluginFiles();
  const pkg = packFiles(files);
  t.deepEqual(pkg, packFiles(new Map([...files].reverse())));
  t.deepEqual(sorted((await readPackage(pkg)).files), sorted(files));
});

test('archive refuses a ".." path', async (t) => {
  const pkg = rawPackage([{ header: { path: '../escape.js', type: 'File' }, data: Buffer.from('x') }]);
  const err = await archiveError(pkg);
  t.is(err.code, 'UNSAFE_PATH');
  t.is(err.message, 'unsafe path "../escape.js": ".." would escape the package');
  const r = refusal(await verify(pkg));
  t.is(r.code, 'INVALID_ARCHIVE');
  t.is(r.path, '../escape.js');
  t.throws(() => packFiles(new Map([['lib/../../x.js', Buffer.from('x')]])), {
    instanceOf: PackageError,
    message: /would escape the package/,
  });
});

test('archive refuses an absolute path', async (t) => {
  const err = await archiveError(rawPackage([{ header: { path: '/etc/cron.d/x', type: 'File' }, data: Buffer.from('x') }]));
  t.is(err.code, 'UNSAFE_PATH');
  t.is(err.message, 'unsafe path "/etc/cron.d/x": absolute paths are not allowed');
});

test('archive refuses symlinks, hard links and device files', async (t) => {
  const link = await archiveError(rawPackage([{ header: { path: 'plugin.js', type: 'SymbolicLink', linkpath: '/etc/passwd' } }]));
  t.is(link.code, 'UNSUPPORTED_ENTRY');
  t.is(link.message, '"plugin.js" is a symlink; packages hold regular files only');
  const hard = await archiveError(rawPackage([{ header: { path: 'plugin.js', type: 'Link', linkpath: 'manifest.json' } }]));
  t.is(hard.message, '"plugin.js" is a hard link; packages hold regular files only');
  const device = await archiveError(rawPackage([{ header: { path: 'tty', type: 'CharacterDevice', devmaj: 5, devmin: 0 } }]));
  t.is(device.code, 'UNSUPPORTED_ENTRY');
  t.is(device.message, '"tty" is a device file or FIFO; packages hold regular files only');
});

test('archive refuses a path that appears twice', async (t) => {
  const err = await archiveError(
    rawPackage([
      { header: { path: 'plugin.js', type: 'File' }, data: Buffer.from('a') },
      { header: { path: 'plugin.js', type: 'File' }, data: Buffer.from('b') },
    ]),
  );
  t.is(err.code, 'DUPLICATE_PATH');
});

test('archive accepts directory entries and a leading "./"', async (t) => {
  const { files } = await readPackage(
    rawPackage([
      { header: { path: './', type: 'Directory', mode: 0o755 } },
      { header: { path: './lib/', type: 'Directory', mode: 0o755 } },
      { header: { path: './lib/a.js', type: 'File' }, data: Buffer.from('a') },
    ]),
  );
  t.deepEqual([...files.keys()], ['lib/a.js']);
});

test(`archive refuses more than ${MAX_FILES} files`, async (t) => {
  const entries = Array.from({ length: MAX_FILES + 1 }, (_, i) => ({
    header: { path: `f${i}.js`, type: 'File' as const },
    data: Buffer.from('x'),
  }));
  const err = await archiveError(rawPackage(entries));
  t.is(err.code, 'TOO_MANY_FILES');
  t.is(err.message, 'a package may hold at most 100 files');
  t.throws(() => packFiles(new Map(entries.map((e) => [e.header.path, e.data]))), {
    instanceOf: PackageError,
    message: 'a package may hold at most 100 files',
  });
  t.is((await readPackage(rawPackage(entries.slice(0, MAX_FILES)))).files.size, MAX_FILES);
});

test('archive refuses more than 20 MB unpacked, however well it compresses', async (t) => {
  const atLimit = rawPackage([{ header: { path: 'big.bin', type: 'File' }, data: Buffer.alloc(MAX_UNPACKED_BYTES) }]);
  t.is((await readPackage(atLimit)).files.get('big.bin')?.length, MAX_UNPACKED_BYTES);
  const overByOne = rawPackage([
    { header: { path: 'big.bin', type: 'File' }, data: Buffer.alloc(MAX_UNPACKED_BYTES) },
    { header: { path: 'one.bin', type: 'File' }, data: Buffer.alloc(1) },
  ]);
  const err = await archiveError(overByOne);
  t.is(err.code, 'TOO_LARGE');
  t.is(err.message, 'a package may hold at most 20 MB of files, unpacked');
  // Far past the limit: refused while decompressing, before tar parses anything.
  const bomb = rawPackage([{ header: { path: 'bomb.bin', type: 'File' }, data: Buffer.alloc(64 * 1024 * 1024) }]);
  t.true(bomb.length < 256 * 1024);
  t.is((await archiveError(bomb)).code, 'TOO_LARGE');
  t.throws(() => packFiles(new Map([['big.bin', Buffer.alloc(MAX_UNPACKED_BYTES + 1)]])), {
    instanceOf: PackageError,
    message: /at most 20 MB/,
  });
  t.is(refusal(await verify(overByOne)).code, 'INVALID_ARCHIVE');
});

test('archive refuses data that is not a gzipped tar', async (t) => {
  t.is((await archiveError(Buffer.from('PK\u0003\u0004 not a tarball'))).code, 'MALFORMED_ARCHIVE');
  t.is((await archiveError(gzipSync(Buffer.from('plain text, not tar')))).code, 'MALFORMED_ARCHIVE');
  t.is((await archiveError(gzipSync(packFiles(pluginFiles())))).message, 'the archive is compressed twice');
});

test('a directory packs into a package that verifies once signed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-plugin-'));
  try {
    for (const [path, data] of pluginFiles()) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), data);
    }
    const { files } = await readPackage(await packDirectory(dir));
    t.deepEqual(sorted(files), sorted(pluginFiles()));
    t.true((await verify(signedWith(keys.publisher, files))).ok);
    await symlink('/etc/passwd', join(dir, 'lib', 'passwd'));
    await t.throwsAsync(packDirectory(dir), {
      instanceOf: PackageError,
      message: '"lib/passwd" is a symlink; packages hold regular files only',
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// --- manifest and canonical JSON ------------------------------------------------------

const problems = (raw: unknown): string[] => {
  const result = validateManifest(raw);
  return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
};

test('manifest validation names each problem by path', (t) => {
  t.deepEqual(
    problems({
      name: 'Acme',
      version: '1.0',
      publisher: 'Acme Plugins',
      minApplianceVersion: '0.1.0',
      entry: '../x.js',
      actions: [manifest.actions[0]],
      permissions: { hosts: ['https://api.example.com', 'ok.example:443'], credentialTypes: [], rawSecretAccess: 'yes' },
      resources: { memoryMb: 0, timeoutMs: 1.5 },
      extra: true,
    }),
    [
      'extra: unknown property',
      'name: must start with a lowercase letter and contain only lowercase letters, digits and "-" (at most 64 characters)',
      'version: must be a version "major.minor.patch", e.g. "1.4.0"',
      'entry: must be a .js file name in the package root, e.g. "plugin.js"',
      'permissions.hosts[0]: must be "*" or a lowercase "host" or "host:port", optionally starting with "*.", e.g. "*.example.com:443"',
      'permissions.rawSecretAccess: must be a boolean',
      'resources.memoryMb: must be a positive integer',
      'resources.timeoutMs: must be an integer',
    ],
  );
});

test('manifest validation checks unique action names, ports and action schemas', (t) => {
  const action = manifest.actions[0] as (typeof manifest.actions)[number];
  t.deepEqual(
    problems({
      ...manifest,
      actions: [
        action,
        { ...action, inputSchema: { type: 'nope' } },
        { ...action, name: 'other', outputSchema: { properties: { a: { minimum: 'x' } } } },
      ],
      permissions: { hosts: ['*.example.com:70000'] },
    }),
    [
      'actions[1].name: duplicate action name "forecast" (also actions[0].name)',
      'actions[1].inputSchema.type: is not a valid JSON Schema: must be equal to one of the allowed values',
      'actions[1].inputSchema.type: is not a valid JSON Schema: must be array',
      'actions[1].inputSchema.type: is not a valid JSON Schema: must match a schema in anyOf',
      'actions[2].outputSchema.properties.a.minimum: is not a valid JSON Schema: must be number',
      'permissions.hosts[0]: port 70000 is outside 1-65535',
    ],
  );
  t.deepEqual(problems({ ...manifest, actions: [] }), ['actions: must have at least 1 item']);
  t.deepEqual(problems({ name: 'x' }), [
    'version: is required',
    'publisher: is required',
    'minApplianceVersion: is required',
    'actions: is required',
  ]);
});

test('manifest defaults: entry plugin.js, no permissions, no resource requests', (t) => {
  const result = validateManifest({
    name: 'x',
    version: '0.0.1',
    publisher: 'p',
    minApplianceVersion: '0.0.0',
    actions: [manifest.actions[0]],
  });
  if (!result.ok) return t.fail(JSON.stringify(result.issues));
  t.is(result.manifest.entry, 'plugin.js');
  t.deepEqual(result.manifest.permissions, { hosts: [], credentialTypes: [], rawSecretAccess: false });
  t.deepEqual(result.manifest.resources, {});
});

test('canonical JSON sorts keys recursively and drops whitespace', (t) => {
  t.is(canonicalJson({ b: [3, { d: 1, c: 'x' }], a: null, é: true, Z: 1.5 }), '{"Z":1.5,"a":null,"b":[3,{"c":"x","d":1}],"é":true}');
  t.is(canonicalJson(JSON.parse('{ "z": 1,\n  "a": { "y": 2, "b": [] } }')), canonicalJson({ a: { b: [], y: 2 }, z: 1 }));
  t.throws(() => canonicalJson({ a: Number.NaN }), { instanceOf: TypeError });
  t.throws(() => canonicalJson({ a: new Date(0) }), { instanceOf: TypeError });
});
