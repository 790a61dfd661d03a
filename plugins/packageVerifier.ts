import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { PackageCheck, PluginPackageVerifier, VerifiedPluginPackage } from '../core/plugins/types.js';
import { verifyPluginPackage, type PluginManifest } from './package/index.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The publisher CAs of a PEM bundle; a missing file is an empty trust store (only bundled plugins install). */
export function readTrustStore(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').match(PEM_CERTIFICATE) ?? [];
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** The domain's view of a package that verified: the manifest, the entry script and the digests. */
export function toVerifiedPackage(
  manifest: PluginManifest,
  files: ReadonlyMap<string, Buffer>,
  packageBytes: Buffer | null,
  signer: { fingerprint: string; notAfter: Date } | null,
): VerifiedPluginPackage {
  const script = files.get(manifest.entry);
  if (!script) throw new Error(`package ${manifest.name} ${manifest.version} has no entry script ${manifest.entry}`);
  return {
    signed: signer !== null,
    manifest,
    script: script.toString('utf8'),
    scriptSha256: sha256(script),
    packageSha256: sha256(packageBytes ?? Buffer.concat([...files.keys()].sort().flatMap((k) => [Buffer.from(k), files.get(k)!]))),
    publisherFingerprint: signer?.fingerprint ?? null,
    certificateNotAfter: signer?.notAfter ?? null,
  };
}

/** Plugs the package format's verification into the domain's install path. */
export function createPackageVerifier(options: { trustStore: readonly string[]; applianceVersion: string }): PluginPackageVerifier {
  return {
    async verify(pkg: Buffer, { allowUnsigned }): Promise<PackageCheck> {
      const result = await verifyPluginPackage(pkg, {
        trustStore: options.trustStore,
        applianceVersion: options.applianceVersion,
        allowUnsigned,
      });
      if (!result.ok) return { ok: false, code: result.code, reason: result.reason };
      const signer = result.signed ? { fingerprint: result.publisherFingerprint, notAfter: result.certificateNotAfter } : null;
      return { ok: true, pkg: toVerifiedPackage(result.manifest, result.files, pkg, signer) };
    },
  };
}
