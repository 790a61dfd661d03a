/**
 * Errors thrown by the package tooling (packing, reading, signing). Verification never
 * throws for a bad package; it returns a refusal with a `VerificationCode` instead.
 */
export type PackageErrorCode =
  /** Not a gzipped tar, truncated, or an entry the tar reader cannot parse. */
  | 'MALFORMED_ARCHIVE'
  /** An absolute path, a `..` segment, or characters outside the portable set. */
  | 'UNSAFE_PATH'
  /** A symlink, hard link, device file, FIFO or other non-regular entry. */
  | 'UNSUPPORTED_ENTRY'
  /** The same path twice; tar readers disagree on which copy wins, so neither is trusted. */
  | 'DUPLICATE_PATH'
  | 'TOO_MANY_FILES'
  | 'TOO_LARGE'
  /** manifest.json is absent or not JSON, so there is nothing to sign. */
  | 'MISSING_MANIFEST'
  /** A private key, certificate or trust-store entry that cannot be used as given. */
  | 'INVALID_KEY_MATERIAL'
  /** A caller option such as the appliance version is malformed. */
  | 'INVALID_OPTION';

export class PackageError extends Error {
  readonly code: PackageErrorCode;
  /** The package path the problem is about, when there is one. */
  readonly path: string | undefined;

  constructor(code: PackageErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PackageError';
    this.code = code;
    this.path = options.path;
  }
}
