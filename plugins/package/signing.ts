/**
 * Publisher keys and package signatures. Like Grafana's signed MANIFEST.txt, a signature
 * lists the SHA-256 of every file in the package; the list (with the digest of the
 * canonical manifest) is what the publisher's key signs, so any unlisted or changed file
 * shows the package was modified after signing.
 */
import forge from 'node-forge';
import { certificateFingerprint, generateRsaKeyPair, randomSerial, sha256Hex, signPss } from '../../core/signatures.js';
import { canonicalJson } from '../../core/canonicalJson.js';
import { PackageError } from './errors.js';
import { MANIFEST_FILE } from './manifest.js';

export const SIGNATURE_FILE = 'SIGNATURE.json';
export const SIGNATURE_ALGORITHM = 'RSASSA-PSS-SHA256';
export const SIGNATURE_VERSION = 1;

const DAY_MS = 86_400_000;

// The package module's public API names the publisher fingerprint.
export { certificateFingerprint };

/** The contents of SIGNATURE.json. */
export interface PackageSignature {
  version: typeof SIGNATURE_VERSION;
  algorithm: typeof SIGNATURE_ALGORITHM;
  /** SHA-256 (hex) of the canonical JSON of manifest.json. */
  manifestSha256: string;
  /** SHA-256 (hex) of every file in the package except SIGNATURE.json, by path. */
  files: Record<string, string>;
  /** PEM certificates, the publisher's first, then any intermediates up to (not including) the trusted CA. */
  certificates: string[];
  /** Base64 RSASSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt) over `signedPayload(manifestSha256, files)`. */
  signature: string;
}

/** A private key and its certificate, both PEM. */
export interface KeyAndCertificate {
  privateKeyPem: string;
  certificatePem: string;
}

export interface CertificateOptions {
  commonName: string;
  organizationName?: string;
  /** Default: now. */
  notBefore?: Date;
  /** Default: `notBefore` plus 10 years for a CA, 2 years for a publisher. */
  notAfter?: Date;
}

export interface PublisherKeyOptions extends CertificateOptions {
  /** The CA (or intermediate) that issues the publisher certificate. */
  ca: KeyAndCertificate;
}

/** Every PEM certificate block in `text`, in order. */
export function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

/** The bytes the publisher's key signs. */
export function signedPayload(manifestSha256: string, files: Record<string, string>): string {
  return canonicalJson({ manifestSha256, files });
}

/** SHA-256 (hex) of the canonical JSON of a manifest.json; throws MISSING_MANIFEST if it is not JSON. */
export function manifestDigest(manifestBytes: Buffer): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifestBytes.toString('utf8'));
  } catch (err) {
    throw new PackageError('MISSING_MANIFEST', `${MANIFEST_FILE} is not valid JSON: ${(err as Error).message}`, {
      path: MANIFEST_FILE,
      cause: err,
    });
  }
  return sha256Hex(canonicalJson(parsed));
}

function readPrivateKey(pem: string): forge.pki.rsa.PrivateKey {
  try {
    return forge.pki.privateKeyFromPem(pem);
  } catch (err) {
    throw new PackageError('INVALID_KEY_MATERIAL', `cannot read the RSA private key: ${(err as Error).message}`, { cause: err });
  }
}

export function readCertificate(pem: string, what: string): forge.pki.Certificate {
  try {
    return forge.pki.certificateFromPem(pem);
  } catch (err) {
    throw new PackageError('INVALID_KEY_MATERIAL', `cannot read ${what}: ${(err as Error).message}`, { cause: err });
  }
}

function subjectOf(options: CertificateOptions): forge.pki.CertificateField[] {
  const fields: forge.pki.CertificateField[] = [{ name: 'commonName', value: options.commonName }];
  if (options.organizationName !== undefined) fields.push({ name: 'organizationName', value: options.organizationName });
  return fields;
}

function validity(cert: forge.pki.Certificate, options: CertificateOptions, defaultDays: number): void {
  const notBefore = options.notBefore ?? new Date();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = options.notAfter ?? new Date(notBefore.getTime() + defaultDays * DAY_MS);
}

/** A self-signed CA certificate (basicConstraints cA) with a fresh RSA-3072 key. */
export function generateCa(options: CertificateOptions): KeyAndCertificate {
  const keys = generateRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, options, 3650);
  cert.setSubject(subjectOf(options));
  cert.setIssuer(subjectOf(options));
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { privateKeyPem: forge.pki.privateKeyToPem(keys.privateKey), certificatePem: forge.pki.certificateToPem(cert) };
}

/** A fresh RSA-3072 publisher key and a code-signing certificate for it, issued by `options.ca`. */
export function generatePublisherKey(options: PublisherKeyOptions): KeyAndCertificate {
  const caKey = readPrivateKey(options.ca.privateKeyPem);
  const caCert = readCertificate(options.ca.certificatePem, 'the CA certificate');
  const keys = generateRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, options, 730);
  cert.setSubject(subjectOf(options));
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', codeSigning: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { privateKeyPem: forge.pki.privateKeyToPem(keys.privateKey), certificatePem: forge.pki.certificateToPem(cert) };
}

/** SHA-256 (hex) of every file except SIGNATURE.json, by path. */
export function fileDigests(files: ReadonlyMap<string, Buffer>): Record<string, string> {
  const digests: Record<string, string> = {};
  for (const path of [...files.keys()].sort()) {
    if (path !== SIGNATURE_FILE) digests[path] = sha256Hex(files.get(path) as Buffer);
  }
  return digests;
}

/**
 * Signs a package's files. `certChainPem` is the publisher certificate first, then any
 * intermediates (as an array or one concatenated PEM text). The manifest is not
 * validated here; verification refuses an invalid one, so run `validateManifest` first.
 */
export function signPackage(
  files: ReadonlyMap<string, Buffer>,
  privateKeyPem: string,
  certChainPem: string | readonly string[],
): PackageSignature {
  const manifestBytes = files.get(MANIFEST_FILE);
  if (manifestBytes === undefined)
    throw new PackageError('MISSING_MANIFEST', `the package has no ${MANIFEST_FILE}`, { path: MANIFEST_FILE });
  const certificates = (typeof certChainPem === 'string' ? [certChainPem] : certChainPem).flatMap(splitPem);
  if (certificates.length === 0) throw new PackageError('INVALID_KEY_MATERIAL', 'no certificate was given to sign with');
  const key = readPrivateKey(privateKeyPem);
  const leaf = readCertificate(certificates[0] as string, 'the publisher certificate');
  // A mismatched pair would produce a package no one can verify; say so now.
  if (!(leaf.publicKey as forge.pki.rsa.PublicKey).n?.equals(key.n)) {
    throw new PackageError('INVALID_KEY_MATERIAL', 'the private key does not belong to the publisher certificate');
  }
  const manifestSha256 = manifestDigest(manifestBytes);
  const digests = fileDigests(files);
  return {
    version: SIGNATURE_VERSION,
    algorithm: SIGNATURE_ALGORITHM,
    manifestSha256,
    files: digests,
    certificates,
    signature: signPss(key, signedPayload(manifestSha256, digests)),
  };
}

/** SIGNATURE.json as stored in a package. */
export const encodeSignature = (signature: PackageSignature): Buffer => Buffer.from(`${JSON.stringify(signature, null, 2)}\n`, 'utf8');

/** A copy of `files` with SIGNATURE.json added (replacing any earlier one). */
export function signFiles(
  files: ReadonlyMap<string, Buffer>,
  privateKeyPem: string,
  certChainPem: string | readonly string[],
): Map<string, Buffer> {
  const signed = new Map(files);
  signed.delete(SIGNATURE_FILE);
  signed.set(SIGNATURE_FILE, encodeSignature(signPackage(signed, privateKeyPem, certChainPem)));
  return signed;
}
