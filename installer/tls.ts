/**
 * TLS for an installation without a certificate of the site's own: a local certificate
 * authority (kept by the installer, 10 years) and a server certificate it issues for the
 * given host names and addresses (2 years). Clients trust the CA's certificate only.
 */
import net from 'node:net';
import forge from 'node-forge';
import { generateRsaKeyPair, randomSerial } from '../core/signatures.js';

const DAY_MS = 86_400_000;

export interface IssuedTls {
  caCertPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
}

/** A host name (DNS) or an IP address, as a subjectAltName entry. */
function altName(name: string): { type: number; value?: string; ip?: string } {
  return net.isIP(name) ? { type: 7, ip: name } : { type: 2, value: name };
}

export function generateLocalCa(commonName: string): { certPem: string; keyPem: string } {
  const keys = generateRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = new Date(Date.now() + 3650 * DAY_MS);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'Switchyard local CA' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** A server certificate for `names` (the first is the subject's common name), issued by the CA. */
export function issueServerCertificate(
  ca: { certPem: string; keyPem: string },
  names: readonly string[],
): { certPem: string; keyPem: string } {
  if (names.length === 0) throw new Error('a server certificate needs at least one host name');
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const keys = generateRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = new Date(Date.now() + 730 * DAY_MS);
  cert.setSubject([
    { name: 'commonName', value: names[0]! },
    { name: 'organizationName', value: 'Switchyard' },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map(altName) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** Checks that a provided certificate and key belong together and the certificate is current; the problem, or null. */
export function providedTlsProblem(certPem: string, keyPem: string, now = new Date()): string | null {
  let cert: forge.pki.Certificate;
  let key: forge.pki.rsa.PrivateKey;
  try {
    cert = forge.pki.certificateFromPem(certPem);
  } catch (error) {
    return `the certificate cannot be read: ${(error as Error).message}`;
  }
  try {
    key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  } catch (error) {
    return `the private key cannot be read (an unencrypted RSA key in PEM is needed): ${(error as Error).message}`;
  }
  const pub = cert.publicKey as forge.pki.rsa.PublicKey;
  if (!pub.n || pub.n.compareTo(key.n) !== 0) return 'the private key does not belong to the certificate';
  if (cert.validity.notAfter < now) return `the certificate expired on ${cert.validity.notAfter.toISOString()}`;
  if (cert.validity.notBefore > now) return `the certificate is not valid before ${cert.validity.notBefore.toISOString()}`;
  return null;
}
