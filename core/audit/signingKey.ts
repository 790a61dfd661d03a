/**
 * The appliance's audit signing key: an RSA-3072 key and a self-signed certificate for it
 * (or one the site's CA issued, if the operator replaces the file), in one PEM file of
 * mode 0600. It signs checkpoints of the audit chains and the manifests of exports; the
 * certificate is public, in every export, so anyone can check them offline.
 */
import fs from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';
import { certificateFingerprint, generateRsaKeyPair, randomSerial, signPss } from '../signatures.js';

const YEAR_MS = 365 * 86_400_000;

export class AuditSigningKeyError extends Error {
  readonly code = 'AUDIT_SIGNING_KEY';
}

export class AuditSigningKey {
  readonly fingerprint: string;

  private constructor(
    private readonly key: forge.pki.rsa.PrivateKey,
    readonly certificate: forge.pki.Certificate,
    readonly certificatePem: string,
  ) {
    this.fingerprint = certificateFingerprint(certificate);
  }

  /** Reads the key file; with `create`, makes a new key and certificate when the file is missing. */
  static open(file: string, options: { create: boolean; commonName?: string }): { key: AuditSigningKey; created: boolean } {
    let created = false;
    if (!fs.existsSync(file)) {
      if (!options.create) throw new AuditSigningKeyError(`audit signing key file ${file} does not exist`);
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      // Written aside and linked into place, so a process starting beside this one reads a whole file or none.
      const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
      fs.writeFileSync(temp, generateAuditSigningKey(options.commonName ?? 'Switchyard audit signing'), { mode: 0o600, flag: 'wx' });
      try {
        fs.linkSync(temp, file);
        created = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        fs.rmSync(temp, { force: true });
      }
    }
    return { key: AuditSigningKey.fromPem(fs.readFileSync(file, 'utf8'), file), created };
  }

  static fromPem(text: string, where = 'the audit signing key'): AuditSigningKey {
    const keyPem = text.match(/-----BEGIN (RSA )?PRIVATE KEY-----[\s\S]*?-----END (RSA )?PRIVATE KEY-----/)?.[0];
    const certPem = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)?.[0];
    if (!keyPem || !certPem) throw new AuditSigningKeyError(`${where} must hold a PEM private key and its PEM certificate`);
    let key: forge.pki.rsa.PrivateKey;
    let cert: forge.pki.Certificate;
    try {
      key = forge.pki.privateKeyFromPem(keyPem);
      cert = forge.pki.certificateFromPem(certPem);
    } catch (error) {
      throw new AuditSigningKeyError(`${where} cannot be read: ${(error as Error).message}`);
    }
    if (!(cert.publicKey as forge.pki.rsa.PublicKey).n.equals(key.n)) {
      throw new AuditSigningKeyError(`${where}: the certificate is not for the private key`);
    }
    return new AuditSigningKey(key, cert, forge.pki.certificateToPem(cert));
  }

  /** Base64 RSASSA-PSS (SHA-256) signature. */
  sign(data: string | Buffer): string {
    return signPss(this.key, data);
  }
}

/** A PEM file holding a fresh private key and a 10-year self-signed certificate for it. */
export function generateAuditSigningKey(commonName: string): string {
  const keys = generateRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date();
  cert.validity.notAfter = new Date(Date.now() + 10 * YEAR_MS);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'Switchyard' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return `${forge.pki.privateKeyToPem(keys.privateKey)}${forge.pki.certificateToPem(cert)}`;
}
