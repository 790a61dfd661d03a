/**
 * The package container: a gzipped tar of regular files, read entirely in memory. Nothing
 * is extracted to disk, so a hostile archive can at worst make reading fail; the limits
 * below bound the memory it can claim.
 */
import { constants as fsConstants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';
import { PackageError } from './errors.js';

/** Files per package, SIGNATURE.json included. */
export const MAX_FILES = 100;
/** Sum of the sizes of all files in a package. */
export const MAX_UNPACKED_BYTES = 20 * 1024 * 1024;
/** Longest path; keeps every name in a plain ustar header, so no pax records are needed. */
export const MAX_PATH_LENGTH = 100;

const BLOCK = 512;
// Tar framing around the file data: a header and up to a block of padding per entry,
// pax records and directory entries from third-party tar tools, and the end marker.
const MAX_TAR_BYTES = MAX_UNPACKED_BYTES + 4 * BLOCK * MAX_FILES * 2 + 4 * BLOCK;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const MEGABYTES = MAX_UNPACKED_BYTES / (1024 * 1024);

/** A package's files keyed by relative path (`/`-separated). */
export interface PackageContents {
  files: Map<string, Buffer>;
}

/**
 * Returns `raw` if it is a safe relative package path, else throws UNSAFE_PATH. Safe means
 * relative, `/`-separated, no empty, `.` or `..` segment, portable characters only.
 */
export function checkPackagePath(raw: string): string {
  const unsafe = (why: string): PackageError =>
    new PackageError('UNSAFE_PATH', `unsafe path ${JSON.stringify(raw)}: ${why}`, { path: raw });
  if (raw === '') throw unsafe('the path is empty');
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) throw unsafe('absolute paths are not allowed');
  if (raw.includes('\\')) throw unsafe('backslashes are not allowed');
  const segments = raw.split('/');
  if (segments.includes('..')) throw unsafe('".." would escape the package');
  if (segments.some((s) => s === '' || s === '.')) throw unsafe('empty and "." segments are not allowed');
  if (!segments.every((s) => SEGMENT.test(s))) throw unsafe('only letters, digits, ".", "_" and "-" are allowed in names');
  if (raw.length > MAX_PATH_LENGTH) throw unsafe(`longer than ${MAX_PATH_LENGTH} characters`);
  return raw;
}

const tooMany = (): PackageError => new PackageError('TOO_MANY_FILES', `a package may hold at most ${MAX_FILES} files`);
const tooLarge = (): PackageError => new PackageError('TOO_LARGE', `a package may hold at most ${MEGABYTES} MB of files, unpacked`);

/**
 * Builds a package from in-memory files. The output is deterministic (sorted entries,
 * fixed owner, mode and mtime), so the same files always give the same bytes.
 */
export function packFiles(files: ReadonlyMap<string, Buffer>): Buffer {
  if (files.size > MAX_FILES) throw tooMany();
  let total = 0;
  const blocks: Buffer[] = [];
  for (const path of [...files.keys()].sort()) {
    checkPackagePath(path);
    const data = files.get(path) as Buffer;
    total += data.length;
    if (total > MAX_UNPACKED_BYTES) throw tooLarge();
    const header = new Header({
      path,
      type: 'File',
      mode: 0o644,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
      size: data.length,
      mtime: new Date(0),
    });
    const block = Buffer.alloc(BLOCK);
    if (header.encode(block, 0))
      throw new PackageError('UNSAFE_PATH', `path ${JSON.stringify(path)} does not fit a ustar header`, { path });
    blocks.push(block, data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return gzipSync(Buffer.concat(blocks), { level: 9 });
}

/**
 * Reads every regular file under `root` (recursively). Symlinks, devices, FIFOs and sockets
 * are refused rather than skipped, so what is signed is exactly what is in the folder.
 */
export async function readDirectory(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  let total = 0;
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(relative ? join(root, relative) : root, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isSymbolicLink())
        throw new PackageError('UNSUPPORTED_ENTRY', `"${path}" is a symlink; packages hold regular files only`, { path });
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      if (!entry.isFile())
        throw new PackageError('UNSUPPORTED_ENTRY', `"${path}" is a device, FIFO or socket; packages hold regular files only`, { path });
      checkPackagePath(path);
      if (files.size >= MAX_FILES) throw tooMany();
      // O_NOFOLLOW: the file must not have been swapped for a symlink since readdir.
      const handle = await open(join(root, path), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      try {
        const { size } = await handle.stat();
        total += size;
        if (total > MAX_UNPACKED_BYTES) throw tooLarge();
        files.set(path, await handle.readFile());
      } finally {
        await handle.close();
      }
    }
  };
  await walk('');
  return files;
}

/** Packs every file under `root` into a package; see `readDirectory` and `packFiles`. */
export async function packDirectory(root: string): Promise<Buffer> {
  return packFiles(await readDirectory(root));
}

/** Reads a package into memory, refusing anything but a bounded set of regular files at safe paths. */
export async function readPackage(pkg: Buffer): Promise<PackageContents> {
  let tarBytes: Buffer;
  try {
    // Bounded here, before tar sees a byte, so a gzip bomb costs at most MAX_TAR_BYTES.
    tarBytes = gunzipSync(pkg, { maxOutputLength: MAX_TAR_BYTES });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw new PackageError('MALFORMED_ARCHIVE', `not a gzip-compressed tar archive: ${(err as Error).message}`, { cause: err });
  }
  // tar would transparently decompress a second layer, outside the bound above.
  if (tarBytes[0] === 0x1f && tarBytes[1] === 0x8b) {
    throw new PackageError('MALFORMED_ARCHIVE', 'the archive is compressed twice');
  }
  return parseTar(tarBytes);
}

/** `./a/b` → `a/b`, as written by `tar -C dir .`; the leading `./` carries no meaning. */
const stripCurrentDirectory = (path: string): string => path.replace(/^(\.\/)+/, '');

function parseTar(tarBytes: Buffer): Promise<PackageContents> {
  return new Promise((resolve, reject) => {
    const files = new Map<string, Buffer>();
    let total = 0;
    let failure: PackageError | undefined;
    const parser = new Parser({ strict: true, brotli: false, zstd: false });
    const refuse = (err: PackageError): void => {
      if (failure) return;
      failure = err;
      // A plain Error: tar decorates what it is given, and our error should reach the caller intact.
      parser.abort(new Error(err.message));
    };

    parser.on('entry', (entry: ReadEntry) => {
      if (failure) {
        entry.resume();
        return;
      }
      try {
        const isDirectory = entry.type === 'Directory';
        const relative = stripCurrentDirectory(entry.path);
        const raw = isDirectory ? relative.replace(/\/+$/, '') : relative;
        if (isDirectory && (raw === '' || raw === '.')) {
          entry.resume();
          return;
        }
        const path = checkPackagePath(raw);
        if (isDirectory) {
          entry.resume();
          return;
        }
        if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
          throw new PackageError(
            'UNSUPPORTED_ENTRY',
            `"${path}" is a ${entry.type === 'Link' ? 'hard link' : 'symlink'}; packages hold regular files only`,
            { path },
          );
        }
        if (entry.type === 'CharacterDevice' || entry.type === 'BlockDevice' || entry.type === 'FIFO') {
          throw new PackageError('UNSUPPORTED_ENTRY', `"${path}" is a device file or FIFO; packages hold regular files only`, { path });
        }
        if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
          throw new PackageError('UNSUPPORTED_ENTRY', `"${path}" is a ${entry.type} entry; packages hold regular files only`, { path });
        }
        if (files.has(path)) throw new PackageError('DUPLICATE_PATH', `"${path}" appears more than once`, { path });
        if (files.size >= MAX_FILES) throw tooMany();
        total += entry.size;
        if (total > MAX_UNPACKED_BYTES) throw tooLarge();
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => files.set(path, Buffer.concat(chunks)));
      } catch (err) {
        entry.resume();
        if (err instanceof PackageError) refuse(err);
        else refuse(new PackageError('MALFORMED_ARCHIVE', `cannot read entry: ${(err as Error).message}`, { cause: err }));
      }
    });
    // Entry types tar does not know, and oversized pax records, arrive here instead.
    parser.on('ignoredEntry', (entry: ReadEntry) => {
      refuse(new PackageError('UNSUPPORTED_ENTRY', `"${entry.path}" is an unsupported ${entry.type} entry`, { path: entry.path }));
    });
    parser.on('error', (err: Error) => {
      reject(failure ?? new PackageError('MALFORMED_ARCHIVE', `not a valid tar archive: ${err.message}`, { cause: err }));
    });
    parser.on('end', () => {
      if (failure) reject(failure);
      else resolve({ files });
    });
    parser.end(tarBytes);
  });
}
