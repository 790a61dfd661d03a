/**
 * Verification of a plugin package before it is installed. Bad packages are not
 * exceptions: the result says which rule failed, with a stable code and a reason that
 * names the file, field or certificate at fault. Only caller mistakes (a malformed
 * appliance version or trust store) throw.
 */
import { Ajv } from 'ajv';
import forge from 'node-forge';
import { readPackage } from './archive.js';
import { PackageError } from './errors.js';
import { MANIFEST_FILE, validateManifest, type ManifestIssue, type PluginManifest } from './manifest.js';
import { certificateFingerprint, sha256Hex, verifyPss } from '../../core/signatures.js';
import {
  manifestDigest,
  readCertificate,
  signedPayload,
  SIGNATURE_ALGORITHM,
  SIGNATURE_FILE,
  SIGNATURE_VERSION,
  type PackageSignature,
} from './signing.js';
import { compareVersions, isVersion } from '../../core/versions.js';

export type VerificationCode =
  /** No SIGNATURE.json (and `allowUnsigned` is off). */
  | 'UNSIGNED'
  /** A file listed in SIGNATURE.json is missing or its content changed. */
  | 'MODIFIED'
  /** A file in the package is not listed in SIGNATURE.json. */
  | 'EXTRA_FILE'
  /** SIGNATURE.json is malformed, or its signature does not verify with the publisher key. */
  | 'BAD_SIGNATURE'
  /** The certificate chain does not lead to a trusted CA, is not fit for signing, or names another publisher. */
  | 'UNTRUSTED_PUBLISHER'
  /** A certificate in the chain has expired or is not yet valid. */
  | 'CERT_EXPIRED'
  | 'INVALID_MANIFEST'
  /** The plugin needs a newer appliance. */
  | 'INCOMPATIBLE'
  /** Not a readable package: not a gzipped tar, unsafe paths, links, too many files, too large. */
  | 'INVALID_ARCHIVE';

export interface VerifyOptions {
  /** PEM certificates of the CAs whose publishers are trusted. */
  trustStore: readonly string[];
  /** Version of the running appliance, `major.minor.patch`. */
  applianceVersion: string;
  /** The time certificates must be valid at. Default: now. */
  now?: Date;
  /** Accept a package with no SIGNATURE.json (the caller must audit it). A signed package is still fully checked. Default: false. */
  allowUnsigned?: boolean;
}

export interface PackageRefusal {
  ok: false;
  code: VerificationCode;
  reason: string;
  /** Where the problem is: a package file, or for INVALID_MANIFEST a manifest field such as `actions[1].name`. */
  path?: string;
  /** Every manifest problem, for INVALID_MANIFEST. */
  issues?: ManifestIssue[];
}

export interface SignedPackage {
  ok: true;
  signed: true;
  manifest: PluginManifest;
  files: Map<string, Buffer>;
  /** SHA-256 (hex) of the publisher certificate's DER. */
  publisherFingerprint: string;
  publisherCommonName: string | undefined;
  publisherOrganization: string | undefined;
  /** When the publisher certificate expires; the package stays installed, but updates need a renewed one. */
  certificateNotAfter: Date;
}

export interface UnsignedPackage {
  ok: true;
  signed: false;
  manifest: PluginManifest;
  files: Map<string, Buffer>;
}

export type VerificationResult = SignedPackage | UnsignedPackage | PackageRefusal;

const HEX_SHA256 = '^[0-9a-f]{64}$';
const signatureSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'algorithm', 'manifestSha256', 'files', 'certificates', 'signature'],
  properties: {
    version: { const: SIGNATURE_VERSION },
    algorithm: { const: SIGNATURE_ALGORITHM },
    manifestSha256: { type: 'string', pattern: HEX_SHA256 },
    files: {
      type: 'object',
      propertyNames: { not: { const: SIGNATURE_FILE } },
      additionalProperties: { type: 'string', pattern: HEX_SHA256 },
    },
    certificates: { type: 'array', minItems: 1, maxItems: 10, items: { type: 'string' } },
    signature: { type: 'string', pattern: '^[A-Za-z0-9+/]+={0,2}$' },
  },
};
const checkSignatureShape = new Ajv({ allErrors: false, strict: true }).compile<PackageSignature>(signatureSchema);

// SHA-1 and MD5 certificate signatures can be forged; only these are accepted in a chain.
const ACCEPTED_CERT_SIGNATURES = new Set(
  ['sha256WithRSAEncryption', 'sha384WithRSAEncryption', 'sha512WithRSAEncryption', 'RSASSA-PSS'].map((name) => forge.pki.oids[name]),
);
const MIN_RSA_BITS = 2048;

const refuse = (code: VerificationCode, reason: string, extra: Partial<Pick<PackageRefusal, 'path' | 'issues'>> = {}): PackageRefusal => ({
  ok: false,
  code,
  reason,
  ...extra,
});

const field = (cert: forge.pki.Certificate, name: string): string | undefined => {
  const value = (cert.subject.getField(name) as { value?: unknown } | null)?.value;
  return typeof value === 'string' ? value : undefined;
};

const describe = (cert: forge.pki.Certificate): string => {
  const cn = field(cert, 'CN');
  return cn === undefined ? `certificate ${cert.serialNumber}` : `certificate "${cn}"`;
};

function readTrustStore(pems: readonly string[]): forge.pki.CAStore {
  const store = forge.pki.createCaStore();
  pems.forEach((pem, i) => store.addCertificate(readCertificate(pem, `trustStore[${i}]`)));
  return store;
}

/** Checks a package: archive, signature, publisher, file list, manifest and compatibility, in that order. */
export async function verifyPluginPackage(pkg: Buffer, options: VerifyOptions): Promise<VerificationResult> {
  if (!isVersion(options.applianceVersion)) {
    throw new PackageError('INVALID_OPTION', `applianceVersion ${JSON.stringify(options.applianceVersion)} is not "major.minor.patch"`);
  }
  const trustStore = readTrustStore(options.trustStore);
  const now = options.now ?? new Date();

  let files: Map<string, Buffer>;
  try {
    ({ files } = await readPackage(pkg));
  } catch (err) {
    if (!(err instanceof PackageError)) throw err;
    return refuse('INVALID_ARCHIVE', err.message, err.path === undefined ? {} : { path: err.path });
  }

  const signatureBytes = files.get(SIGNATURE_FILE);
  if (signatureBytes === undefined) {
    if (!options.allowUnsigned) return refuse('UNSIGNED', `the package has no ${SIGNATURE_FILE}`, { path: SIGNATURE_FILE });
    const contents = checkContents(files, options.applianceVersion);
    return contents.ok ? { ok: true, signed: false, manifest: contents.manifest, files } : contents;
  }

  const signature = parseSignature(signatureBytes);
  if ('ok' in signature) return signature;

  const chain = checkChain(signature.certificates, trustStore, now);
  if ('ok' in chain) return chain;
  const leaf = chain[0] as forge.pki.Certificate;

  if (!verifySignature(leaf, signature)) {
    return refuse('BAD_SIGNATURE', `the signature in ${SIGNATURE_FILE} does not verify with the key of ${describe(leaf)}`, {
      path: SIGNATURE_FILE,
    });
  }

  const listing = checkListing(files, signature.files);
  if (listing) return listing;

  const manifestBytes = files.get(MANIFEST_FILE);
  if (manifestBytes === undefined) return refuse('INVALID_MANIFEST', `the package has no ${MANIFEST_FILE}`, { path: MANIFEST_FILE });
  let manifestSha256: string;
  try {
    manifestSha256 = manifestDigest(manifestBytes);
  } catch (err) {
    return refuse('INVALID_MANIFEST', (err as Error).message, { path: '(root)' });
  }
  // Both values are covered by the signature, so a mismatch means the signer produced it.
  if (manifestSha256 !== signature.manifestSha256) {
    return refuse('BAD_SIGNATURE', `manifestSha256 in ${SIGNATURE_FILE} does not match ${MANIFEST_FILE}`, { path: SIGNATURE_FILE });
  }

  const contents = checkContents(files, options.applianceVersion, leaf);
  if (!contents.ok) return contents;
  return {
    ok: true,
    signed: true,
    manifest: contents.manifest,
    files,
    publisherFingerprint: certificateFingerprint(leaf),
    publisherCommonName: field(leaf, 'CN'),
    publisherOrganization: field(leaf, 'O'),
    certificateNotAfter: leaf.validity.notAfter,
  };
}

function parseSignature(bytes: Buffer): PackageSignature | PackageRefusal {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return refuse('BAD_SIGNATURE', `${SIGNATURE_FILE} is not valid JSON: ${(err as Error).message}`, { path: SIGNATURE_FILE });
  }
  if (!checkSignatureShape(parsed)) {
    const e = checkSignatureShape.errors?.[0];
    const at = e?.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(root)';
    return refuse('BAD_SIGNATURE', `${SIGNATURE_FILE} is malformed: ${at} ${e?.message ?? 'is invalid'}`, { path: SIGNATURE_FILE });
  }
  return parsed;
}

/** The parsed chain, publisher first, if it leads to a trusted CA, is fit for signing and is valid at `now`. */
function checkChain(pems: readonly string[], trustStore: forge.pki.CAStore, now: Date): forge.pki.Certificate[] | PackageRefusal {
  const chain: forge.pki.Certificate[] = [];
  for (const [i, pem] of pems.entries()) {
    try {
      chain.push(forge.pki.certificateFromPem(pem));
    } catch (err) {
      return refuse('UNTRUSTED_PUBLISHER', `certificates[${i}] in ${SIGNATURE_FILE} cannot be read: ${(err as Error).message}`, {
        path: SIGNATURE_FILE,
      });
    }
  }
  for (const cert of chain) {
    if (!ACCEPTED_CERT_SIGNATURES.has(cert.signatureOid)) {
      const algorithm = forge.pki.oids[cert.signatureOid] ?? cert.signatureOid;
      return refuse('UNTRUSTED_PUBLISHER', `${describe(cert)} is signed with ${String(algorithm)}; SHA-256 or stronger is required`);
    }
    const bits = (cert.publicKey as forge.pki.rsa.PublicKey).n.bitLength();
    if (bits < MIN_RSA_BITS)
      return refuse('UNTRUSTED_PUBLISHER', `${describe(cert)} has a ${bits}-bit key; at least ${MIN_RSA_BITS} bits are required`);
  }

  const leaf = chain[0] as forge.pki.Certificate;
  try {
    // Dates are checked below, so that an expired certificate gets its own code.
    forge.pki.verifyCertificateChain(trustStore, chain, { validityCheckDate: null });
  } catch (err) {
    const message = (err as { message?: unknown }).message;
    return refuse(
      'UNTRUSTED_PUBLISHER',
      `${describe(leaf)} does not chain to a trusted CA: ${typeof message === 'string' ? message : String(err)}`,
    );
  }

  const basicConstraints = leaf.getExtension('basicConstraints') as { cA?: boolean } | null;
  if (basicConstraints?.cA)
    return refuse('UNTRUSTED_PUBLISHER', `${describe(leaf)} is a CA certificate; packages must be signed with a publisher certificate`);
  const keyUsage = leaf.getExtension('keyUsage') as { digitalSignature?: boolean } | null;
  if (keyUsage && !keyUsage.digitalSignature)
    return refuse('UNTRUSTED_PUBLISHER', `${describe(leaf)} does not allow digital signatures (keyUsage)`);
  const extKeyUsage = leaf.getExtension('extKeyUsage') as { codeSigning?: boolean } | null;
  if (extKeyUsage && !extKeyUsage.codeSigning)
    return refuse('UNTRUSTED_PUBLISHER', `${describe(leaf)} does not allow code signing (extKeyUsage)`);

  for (const cert of chain) {
    const problem = validityProblem(cert, now);
    if (problem) return refuse('CERT_EXPIRED', problem);
  }
  // The trusted CA is not part of the chain forge checks dates on, but an expired root must not vouch either.
  const anchors = trustAnchorsOf(chain[chain.length - 1] as forge.pki.Certificate, trustStore);
  const anchorProblems = anchors.map((anchor) => validityProblem(anchor, now));
  if (anchors.length > 0 && anchorProblems.every((p) => p !== undefined)) return refuse('CERT_EXPIRED', anchorProblems[0] as string);
  return chain;
}

function validityProblem(cert: forge.pki.Certificate, now: Date): string | undefined {
  if (now < cert.validity.notBefore) return `${describe(cert)} is not valid until ${cert.validity.notBefore.toISOString()}`;
  if (now > cert.validity.notAfter) return `${describe(cert)} expired on ${cert.validity.notAfter.toISOString()}`;
  return undefined;
}

/** The trust-store certificates that issued `last` (none when `last` is itself a trusted root). */
function trustAnchorsOf(last: forge.pki.Certificate, trustStore: forge.pki.CAStore): forge.pki.Certificate[] {
  if (last.isIssuer(last)) return [];
  // forge returns an array when several trusted CAs share a subject name.
  const candidates = ([] as forge.pki.Certificate[]).concat(trustStore.getIssuer(last) ?? []);
  return candidates.filter((candidate) => {
    try {
      return candidate.verify(last);
    } catch {
      return false;
    }
  });
}

function verifySignature(leaf: forge.pki.Certificate, signature: PackageSignature): boolean {
  return verifyPss(leaf, signedPayload(signature.manifestSha256, signature.files), signature.signature);
}

/** Every listed file present and unchanged, and nothing unlisted. */
function checkListing(files: ReadonlyMap<string, Buffer>, listed: Record<string, string>): PackageRefusal | undefined {
  for (const path of Object.keys(listed).sort()) {
    const content = files.get(path);
    if (content === undefined) return refuse('MODIFIED', `"${path}" is listed in ${SIGNATURE_FILE} but missing from the package`, { path });
    if (sha256Hex(content) !== listed[path])
      return refuse('MODIFIED', `"${path}" has been modified since the package was signed`, { path });
  }
  for (const path of [...files.keys()].sort()) {
    if (path !== SIGNATURE_FILE && !Object.hasOwn(listed, path)) {
      return refuse('EXTRA_FILE', `"${path}" is not listed in ${SIGNATURE_FILE}; it was added after signing`, { path });
    }
  }
  return undefined;
}

/** The manifest, its entry script, the publisher's name (when signed) and compatibility. */
function checkContents(
  files: ReadonlyMap<string, Buffer>,
  applianceVersion: string,
  leaf?: forge.pki.Certificate,
): { ok: true; manifest: PluginManifest } | PackageRefusal {
  const bytes = files.get(MANIFEST_FILE);
  if (bytes === undefined) return refuse('INVALID_MANIFEST', `the package has no ${MANIFEST_FILE}`, { path: MANIFEST_FILE });
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return refuse('INVALID_MANIFEST', `${MANIFEST_FILE} is not valid JSON: ${(err as Error).message}`, { path: '(root)' });
  }
  const validation = validateManifest(raw);
  if (!validation.ok) {
    const [first] = validation.issues as [ManifestIssue, ...ManifestIssue[]];
    const more = validation.issues.length > 1 ? ` (and ${validation.issues.length - 1} more)` : '';
    return refuse('INVALID_MANIFEST', `${first.path}: ${first.message}${more}`, { path: first.path, issues: validation.issues });
  }
  const { manifest } = validation;
  if (!files.has(manifest.entry)) {
    return refuse('INVALID_MANIFEST', `entry: the entry script "${manifest.entry}" is not in the package`, { path: 'entry' });
  }
  if (leaf) {
    const names = [field(leaf, 'CN'), field(leaf, 'O')].filter((n): n is string => n !== undefined);
    if (!names.includes(manifest.publisher)) {
      return refuse(
        'UNTRUSTED_PUBLISHER',
        `the manifest names publisher "${manifest.publisher}" but the package is signed by ${names.map((n) => `"${n}"`).join(' / ') || 'an unnamed certificate'}`,
        { path: 'publisher' },
      );
    }
  }
  if (compareVersions(manifest.minApplianceVersion, applianceVersion) > 0) {
    return refuse(
      'INCOMPATIBLE',
      `the plugin needs appliance ${manifest.minApplianceVersion} or newer; this appliance is ${applianceVersion}`,
      {
        path: 'minApplianceVersion',
      },
    );
  }
  return { ok: true, manifest };
}
