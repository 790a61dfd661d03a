/**
 * RSA keys, X.509 certificates and RSASSA-PSS signatures (SHA-256, MGF1-SHA-256, 32-byte
 * salt), the one signature scheme of the appliance: plugin packages and audit checkpoints
 * and exports. `openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32`
 * checks the same signatures.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import forge from 'node-forge';

export const RSA_KEY_BITS = 3072;
export const PSS_SALT_BYTES = 32;

export const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** SHA-256 (hex) of a file, read as a stream (bundles can be large). */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** SHA-256 (hex) of a certificate's DER encoding: its stable identity. */
export function certificateFingerprint(cert: forge.pki.Certificate): string {
  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes();
  return sha256Hex(Buffer.from(der, 'binary'));
}

/** The RSASSA-PSS parameters; a fresh object per use because forge's scheme carries state. */
function pssScheme(): unknown {
  return forge.pss.create({
    md: forge.md.sha256.create(),
    mgf: forge.mgf.mgf1.create(forge.md.sha256.create()),
    saltLength: PSS_SALT_BYTES,
  });
}

function sha256Digest(data: string | Buffer): forge.md.MessageDigest {
  const md = forge.md.sha256.create();
  if (typeof data === 'string') md.update(data, 'utf8');
  else md.update(data.toString('binary'));
  return md;
}

/** Base64 RSASSA-PSS signature of `data`. */
export function signPss(key: forge.pki.rsa.PrivateKey, data: string | Buffer): string {
  return forge.util.encode64(key.sign(sha256Digest(data), pssScheme() as forge.pss.PSS));
}

/** Whether `signatureBase64` is the certificate key's RSASSA-PSS signature of `data`; never throws. */
export function verifyPss(cert: forge.pki.Certificate, data: string | Buffer, signatureBase64: string): boolean {
  try {
    const digest = sha256Digest(data).digest().getBytes();
    return (cert.publicKey as forge.pki.rsa.PublicKey).verify(digest, forge.util.decode64(signatureBase64), pssScheme() as forge.pss.PSS);
  } catch {
    return false;
  }
}

/** A positive 128-bit serial; random so that two certificates from one issuer never collide. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('hex');
}

export function generateRsaKeyPair(): forge.pki.rsa.KeyPair {
  // forge hands this to node:crypto when it is available, so it takes milliseconds, not seconds.
  return forge.pki.rsa.generateKeyPair({ bits: RSA_KEY_BITS, e: 0x10001 });
}
