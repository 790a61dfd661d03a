/**
 * `switchyard plugin ...`: the publisher's tools (ca, keygen, sign, verify), which work on
 * local files only, and the administrator's (install, list, remove), which talk to a
 * running appliance through its public GraphQL API. Exit codes: 0 done, 1 refused or
 * failed, 2 used wrongly (a flag, a missing file, unreadable key material).
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import forge from 'node-forge';
import {
  generateCa,
  generatePublisherKey,
  isVersion,
  MANIFEST_FILE,
  PackageError,
  packFiles,
  readDirectory,
  signFiles,
  validateManifest,
  verifyPluginPackage,
  type PluginManifest,
} from '../plugins/package/index.js';
import { applianceVersion } from '../server/version.js';
import {
  action,
  EXIT_REFUSED,
  EXIT_USAGE,
  fingerprintOf,
  nonEmpty,
  outputDirectory,
  parseDays,
  readCertificate,
  readCertificates,
  readInputFile,
  readRsaPrivateKey,
  usageError,
  writeNewFiles,
  type Certificate,
} from './cliSupport.js';
import { apiTarget, callApi, DEFAULT_URL, TOKEN_VARIABLE, type ApiOptions } from './pluginApi.js';

const DAY_MS = 86_400_000;
const CA_DAYS = 3650;
const PUBLISHER_DAYS = 730;
const KEY_MODE = 0o600;
const PUBLIC_MODE = 0o644;

const print = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/** `key: value` lines with the values aligned. */
function printFields(fields: [string, string][], indent = '  '): void {
  const width = Math.max(...fields.map(([key]) => key.length)) + 1;
  for (const [key, value] of fields) print(`${indent}${`${key}:`.padEnd(width)} ${value}`);
}

function parseVersion(value: string): string {
  if (!isVersion(value)) throw new InvalidArgumentError('must be a version major.minor.patch, e.g. 0.1.0');
  return value;
}

/** The common name and organization of a certificate's subject (what a manifest's `publisher` must equal). */
function subjectNames(cert: Certificate): { commonName?: string; organization?: string } {
  const parsed = forge.pki.certificateFromPem(cert.pem);
  const field = (name: string): string | undefined => {
    const value = (parsed.subject.getField(name) as { value?: unknown } | null)?.value;
    return typeof value === 'string' ? value : undefined;
  };
  const commonName = field('CN');
  const organization = field('O');
  return { ...(commonName !== undefined ? { commonName } : {}), ...(organization !== undefined ? { organization } : {}) };
}

function checkValidNow(cert: Certificate, flag: string, file: string): void {
  const now = Date.now();
  if (now > Date.parse(cert.x509.validTo))
    throw usageError(`${flag} ${file}: the certificate expired on ${new Date(cert.x509.validTo).toISOString()}`);
  if (now < Date.parse(cert.x509.validFrom))
    throw usageError(`${flag} ${file}: the certificate is not valid until ${new Date(cert.x509.validFrom).toISOString()}`);
}

const iso = (date: string | Date): string => new Date(date).toISOString();

// ---- publisher tools: local files only ----

interface CaOptions {
  out: string;
  name: string;
  days: number;
}

async function createCa(opts: CaOptions): Promise<void> {
  const dir = outputDirectory(opts.out, '--out');
  const keyFile = path.join(dir, 'ca.key.pem');
  const certFile = path.join(dir, 'ca.cert.pem');
  const ca = generateCa({ commonName: opts.name, notAfter: new Date(Date.now() + opts.days * DAY_MS) });
  writeNewFiles([
    { path: keyFile, content: ca.privateKeyPem, mode: KEY_MODE },
    { path: certFile, content: ca.certificatePem, mode: PUBLIC_MODE },
  ]);
  const cert = readCertificate(certFile, '--out');
  print(`created publisher CA "${opts.name}"`);
  printFields([
    ['private key', `${keyFile} (mode 0600; keep it offline, it can issue publisher keys)`],
    ['certificate', certFile],
    ['fingerprint', fingerprintOf(cert.x509)],
    ['expires', iso(cert.x509.validTo)],
  ]);
  print(
    `Add ${path.basename(certFile)} to the appliance's trust store (SWITCHYARD_PLUGIN_TRUST_STORE) to trust the plugins its publishers sign.`,
  );
}

interface KeygenOptions {
  caKey: string;
  caCert: string;
  publisher: string;
  organization?: string;
  out: string;
  days: number;
}

async function createPublisherKey(opts: KeygenOptions): Promise<void> {
  const caKey = readRsaPrivateKey(opts.caKey, '--ca-key');
  const caCert = readCertificate(opts.caCert, '--ca-cert');
  if (!caCert.x509.ca) throw usageError(`--ca-cert ${opts.caCert}: not a CA certificate (basicConstraints cA is not set)`);
  if (!caCert.x509.checkPrivateKey(caKey.key)) throw usageError(`--ca-key ${opts.caKey} does not belong to --ca-cert ${opts.caCert}`);
  checkValidNow(caCert, '--ca-cert', opts.caCert);
  const dir = outputDirectory(opts.out, '--out');
  const keyFile = path.join(dir, 'publisher.key.pem');
  const certFile = path.join(dir, 'publisher.cert.pem');
  const notAfter = new Date(Date.now() + opts.days * DAY_MS);
  const issued = generatePublisherKey({
    commonName: opts.publisher,
    ...(opts.organization !== undefined ? { organizationName: opts.organization } : {}),
    notAfter,
    ca: { privateKeyPem: caKey.pem, certificatePem: caCert.pem },
  });
  writeNewFiles([
    { path: keyFile, content: issued.privateKeyPem, mode: KEY_MODE },
    { path: certFile, content: issued.certificatePem, mode: PUBLIC_MODE },
  ]);
  const cert = readCertificate(certFile, '--out');
  print(`created publisher key for "${opts.publisher}"${opts.organization !== undefined ? ` (organization "${opts.organization}")` : ''}`);
  printFields([
    ['private key', `${keyFile} (mode 0600)`],
    ['certificate', certFile],
    ['issued by', caCert.x509.subject.replace(/\n/g, ', ')],
    ['fingerprint', fingerprintOf(cert.x509)],
    ['expires', iso(cert.x509.validTo)],
  ]);
  const names = [opts.publisher, opts.organization]
    .filter((n): n is string => n !== undefined)
    .map((n) => `"${n}"`)
    .join(' or ');
  print(`A plugin signed with this key must name publisher ${names} in its ${MANIFEST_FILE}.`);
  if (notAfter.getTime() > Date.parse(caCert.x509.validTo)) {
    process.stderr.write(
      `switchyard: warning: the CA expires first (${iso(caCert.x509.validTo)}); packages signed with this key stop verifying then\n`,
    );
  }
}

interface SignOptions {
  key: string;
  cert: string;
  chain?: string;
  out: string;
}

/** The folder's manifest, checked as the appliance will check it; every issue is reported with its path. */
function folderManifest(dir: string, files: ReadonlyMap<string, Buffer>): PluginManifest {
  const bytes = files.get(MANIFEST_FILE);
  if (bytes === undefined) throw usageError(`${dir} has no ${MANIFEST_FILE}; nothing was signed`);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw usageError(`${path.join(dir, MANIFEST_FILE)} is not valid JSON (${(error as Error).message}); nothing was signed`);
  }
  const validation = validateManifest(raw);
  if (!validation.ok) {
    const issues = validation.issues.map((issue) => `  ${issue.path}: ${issue.message}`).join('\n');
    throw usageError(
      `${path.join(dir, MANIFEST_FILE)} is invalid (${validation.issues.length} issue${validation.issues.length === 1 ? '' : 's'}); nothing was signed:\n${issues}`,
    );
  }
  const { manifest } = validation;
  if (!files.has(manifest.entry))
    throw usageError(`${path.join(dir, MANIFEST_FILE)}: entry: the entry script "${manifest.entry}" is not in ${dir}; nothing was signed`);
  return manifest;
}

async function signFolder(dir: string, opts: SignOptions): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw usageError(`plugin folder ${dir}: no such directory`);
  }
  if (!stat.isDirectory()) throw usageError(`plugin folder ${dir}: not a directory`);
  const out = path.resolve(opts.out);
  const relative = path.relative(path.resolve(dir), out);
  if (!relative.startsWith('..') && !path.isAbsolute(relative)) {
    throw usageError(`--out ${opts.out} is inside the plugin folder ${dir}; it would be packed into the next package. Write it elsewhere`);
  }
  if (fs.existsSync(out) && !fs.statSync(out).isFile()) throw usageError(`--out ${opts.out}: exists and is not a regular file`);

  const key = readRsaPrivateKey(opts.key, '--key');
  const cert = readCertificate(opts.cert, '--cert');
  const chain = opts.chain !== undefined ? readCertificates(opts.chain, '--chain') : [];
  if (!cert.x509.checkPrivateKey(key.key)) throw usageError(`--key ${opts.key} does not belong to --cert ${opts.cert}`);
  checkValidNow(cert, '--cert', opts.cert);

  const files = await readDirectory(dir).catch((error: unknown) => {
    if (error instanceof PackageError) throw error;
    throw usageError(`plugin folder ${dir}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  });
  const manifest = folderManifest(dir, files);
  const names = subjectNames(cert);
  if (manifest.publisher !== names.commonName && manifest.publisher !== names.organization) {
    const certNames =
      [names.commonName, names.organization]
        .filter((n) => n !== undefined)
        .map((n) => `"${n}"`)
        .join(' / ') || 'no name';
    throw usageError(
      `${path.join(dir, MANIFEST_FILE)}: publisher: "${manifest.publisher}" is not the name on --cert ${opts.cert} (${certNames}); the appliance would refuse the package. Nothing was signed`,
    );
  }

  const pkg = packFiles(signFiles(files, key.pem, [cert.pem, ...chain.map((c) => c.pem)]));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // Written beside the target and renamed, so a reader never sees half a package.
  const partial = `${out}.${process.pid}.partial`;
  try {
    fs.writeFileSync(partial, pkg, { mode: PUBLIC_MODE });
    fs.renameSync(partial, out);
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw usageError(`cannot write --out ${opts.out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  print(
    `signed ${manifest.name} ${manifest.version} (publisher "${manifest.publisher}", ${files.size} file${files.size === 1 ? '' : 's'} + SIGNATURE.json)`,
  );
  printFields([
    ['package', `${out} (${pkg.length} bytes)`],
    ['fingerprint', fingerprintOf(cert.x509)],
    ['certificate expires', iso(cert.x509.validTo)],
  ]);
}

interface VerifyCommandOptions {
  trustStore: string;
  applianceVersion: string;
}

async function verifyFile(file: string, opts: VerifyCommandOptions): Promise<number> {
  const pkg = readInputFile(file, 'package');
  const trustStore = readCertificates(opts.trustStore, '--trust-store').map((c) => c.pem);
  const result = await verifyPluginPackage(pkg, { trustStore, applianceVersion: opts.applianceVersion });
  if (!result.ok) {
    print(`refused: ${result.code}`);
    printFields([['reason', result.reason], ...(result.path !== undefined ? [['at', result.path] as [string, string]] : [])]);
    for (const issue of result.issues ?? []) print(`    ${issue.path}: ${issue.message}`);
    return EXIT_REFUSED;
  }
  if (!result.signed) throw new Error('an unsigned package verified although unsigned packages were not allowed');
  const { manifest } = result;
  print(`verified: ${manifest.name} ${manifest.version}`);
  printFields([
    ['publisher', manifest.publisher],
    ['fingerprint', result.publisherFingerprint],
    ['certificate expires', result.certificateNotAfter.toISOString()],
    ['actions', manifest.actions.map((a) => `${manifest.name}/${a.name}@${manifest.version.split('.')[0]}`).join(', ')],
    ['appliance', `needs ${manifest.minApplianceVersion} or newer (checked against ${opts.applianceVersion})`],
  ]);
  return 0;
}

// ---- administrator tools: a running appliance's GraphQL API ----

interface InstalledPlugin {
  name: string;
  version: string;
  publisher: string;
  trust: string;
  publisherFingerprint: string | null;
  certificateNotAfter: string | null;
  actions: { uses: string }[];
}
const PLUGIN_FIELDS = 'name version publisher trust publisherFingerprint certificateNotAfter actions { uses }';

async function installFile(file: string, opts: ApiOptions): Promise<void> {
  const target = apiTarget(opts);
  const bundle = readInputFile(file, 'package').toString('base64');
  const data = await callApi<{ installPlugin: InstalledPlugin }>(
    target,
    `mutation($bundle: String!) { installPlugin(input: { bundle: $bundle }) { ${PLUGIN_FIELDS} } }`,
    { bundle },
  );
  const p = data.installPlugin;
  print(`installed ${p.name} ${p.version} (${p.trust}, publisher "${p.publisher}")`);
  printFields([
    ['actions', p.actions.map((a) => a.uses).join(', ')],
    ...(p.publisherFingerprint ? [['fingerprint', p.publisherFingerprint] as [string, string]] : []),
    ...(p.certificateNotAfter ? [['certificate expires', iso(p.certificateNotAfter)] as [string, string]] : []),
  ]);
}

/** Columns padded to their widest cell; the last column is not padded. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}

async function listPlugins(opts: ApiOptions): Promise<void> {
  const target = apiTarget(opts);
  const data = await callApi<{ plugins: InstalledPlugin[] }>(target, `{ plugins { ${PLUGIN_FIELDS} } }`);
  if (data.plugins.length === 0) {
    print('no plugins installed');
    return;
  }
  const rows = data.plugins.map((p) => [p.name, p.version, p.trust, p.publisher, p.actions.map((a) => a.uses).join(', ')]);
  for (const line of table(['NAME', 'VERSION', 'TRUST', 'PUBLISHER', 'ACTIONS'], rows)) print(line);
}

async function removeVersion(name: string, version: string, opts: ApiOptions & { force?: boolean }): Promise<void> {
  if (!isVersion(version)) throw usageError(`VERSION ${JSON.stringify(version)}: must be a version major.minor.patch, e.g. 1.0.0`);
  const target = apiTarget(opts);
  const data = await callApi<{ removePlugin: InstalledPlugin }>(
    target,
    'mutation($input: RemovePluginInput!) { removePlugin(input: $input) { name version } }',
    { input: { name, version, force: opts.force === true } },
  );
  print(`removed ${data.removePlugin.name} ${data.removePlugin.version}`);
}

export function withApiOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', "the appliance's base URL").default(DEFAULT_URL))
    .option('--token <token>', `API token (a system administrator's for install and remove); default: $${TOKEN_VARIABLE}`)
    .addHelpText(
      'after',
      `\nThe token is read from ${TOKEN_VARIABLE} when --token is not given. Prefer the variable: command-line\narguments are visible to other users of the host. The token is never printed.`,
    );
}

/** Registers `switchyard plugin ...` on the program. */
export function registerPluginCommands(program: Command): void {
  const plugin = program
    .command('plugin')
    .description('Create signing keys, sign and verify plugin packages, and install, list and remove plugins on a running appliance.')
    // Usage errors (unknown flag, missing argument or option, bad value) exit 2; help exits 0.
    // Set before the subcommands are added: they inherit it.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE));

  plugin
    .command('ca')
    .description(
      'Create a publisher CA, for an enterprise that signs its own plugins: ca.key.pem (mode 0600) and ca.cert.pem in --out. Existing files are never overwritten.',
    )
    .requiredOption('--out <dir>', 'directory to write into (created if missing)')
    .requiredOption('--name <name>', 'the CA\'s common name, e.g. "Acme plugin signing CA"', nonEmpty)
    .option('--days <n>', 'validity in days', parseDays, CA_DAYS)
    .addHelpText('after', "\nPut ca.cert.pem in the appliance's trust store (SWITCHYARD_PLUGIN_TRUST_STORE); keep ca.key.pem offline.")
    .action(action(createCa));

  plugin
    .command('keygen')
    .description(
      'Create a publisher key and a code-signing certificate issued by a CA: publisher.key.pem (mode 0600) and publisher.cert.pem in --out. Existing files are never overwritten.',
    )
    .requiredOption('--ca-key <file>', "the CA's private key (PEM)")
    .requiredOption('--ca-cert <file>', "the CA's certificate (PEM)")
    .requiredOption(
      '--publisher <name>',
      'the publisher name: the certificate\'s common name, which manifest.json\'s "publisher" must equal',
      nonEmpty,
    )
    .requiredOption('--out <dir>', 'directory to write into (created if missing)')
    .option('--organization <org>', 'organization name on the certificate (a manifest may name it instead)', nonEmpty)
    .option('--days <n>', 'validity in days', parseDays, PUBLISHER_DAYS)
    .action(action(createPublisherKey));

  plugin
    .command('sign')
    .description(
      'Pack a plugin folder (manifest.json, the entry script, any other files) and sign it into a package (.tgz). The manifest is checked first; an invalid one is refused with every issue.',
    )
    .argument('<dir>', 'the plugin folder')
    .requiredOption('--key <file>', "the publisher's private key (PEM)")
    .requiredOption('--cert <file>', "the publisher's certificate (PEM)")
    .option('--chain <file>', 'intermediate CA certificates (PEM), if the publisher certificate is not issued by a trusted CA directly')
    .requiredOption('--out <file>', 'the package to write (replaced if it exists); not inside the plugin folder')
    .action(action(signFolder));

  plugin
    .command('verify')
    .description(
      'Verify a plugin package as the appliance would before installing it. Exit 0 when it verifies, 1 when it is refused, 2 on usage errors.',
    )
    .argument('<file>', 'the package (.tgz)')
    .requiredOption('--trust-store <file>', "PEM bundle of trusted publisher CAs (as the appliance's SWITCHYARD_PLUGIN_TRUST_STORE)")
    .addOption(
      new Option('--appliance-version <x.y.z>', 'the appliance version to check minApplianceVersion against')
        .default(applianceVersion())
        .argParser(parseVersion),
    )
    .action(action(verifyFile));

  withApiOptions(
    plugin
      .command('install')
      .description(
        'Install a signed plugin package on a running appliance (installPlugin; system administrators). The appliance verifies it against its own trust store.',
      )
      .argument('<file>', 'the package (.tgz)'),
  ).action(action(installFile));

  withApiOptions(
    plugin
      .command('list')
      .description('List the plugin versions installed on a running appliance: name, version, trust, publisher, actions.'),
  ).action(action(listPlugins));

  withApiOptions(
    plugin
      .command('remove')
      .description(
        'Remove one plugin version from a running appliance (removePlugin; system administrators). Refused while a published workflow version uses it, unless --force.',
      )
      .argument('<name>', 'plugin name')
      .argument('<version>', 'plugin version, e.g. 1.0.0')
      .option('--force', 'remove even if published workflow versions use it (their runs then fail)'),
  ).action(action(removeVersion));
}
