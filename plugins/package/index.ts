/** The signed plugin package format: manifest, archive, signing and verification. */
export { canonicalJson, type JsonValue } from '../../core/canonicalJson.js';
export { PackageError, type PackageErrorCode } from './errors.js';
export {
  DEFAULT_ENTRY,
  MANIFEST_FILE,
  validateManifest,
  type JsonSchemaObject,
  type ManifestIssue,
  type ManifestValidation,
  type PluginAction,
  type PluginManifest,
  type PluginPermissions,
  type PluginResources,
} from './manifest.js';
export {
  checkPackagePath,
  MAX_FILES,
  MAX_PATH_LENGTH,
  MAX_UNPACKED_BYTES,
  packDirectory,
  packFiles,
  readDirectory,
  readPackage,
  type PackageContents,
} from './archive.js';
export {
  certificateFingerprint,
  encodeSignature,
  generateCa,
  generatePublisherKey,
  signFiles,
  signPackage,
  SIGNATURE_ALGORITHM,
  SIGNATURE_FILE,
  type CertificateOptions,
  type KeyAndCertificate,
  type PackageSignature,
  type PublisherKeyOptions,
} from './signing.js';
export {
  verifyPluginPackage,
  type PackageRefusal,
  type SignedPackage,
  type UnsignedPackage,
  type VerificationCode,
  type VerificationResult,
  type VerifyOptions,
} from './verify.js';
export { compareVersions, isVersion } from '../../core/versions.js';
