/**
 * Writes an export bundle's .tar.gz while its big files are still being generated. Each
 * big file is gzipped in 1 MiB blocks on the thread pool as its text arrives (into a part
 * file of compressed members), and the archive is then put together from tar headers
 * (tar's own Header) and those members: gzip members concatenate into one valid stream,
 * so nothing is compressed twice and the uncompressed files never touch the disk.
 * Compression runs alongside the export's main-thread work instead of after it.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { once } from 'node:events';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import * as tar from 'tar';

const BLOCK_BYTES = 1 << 20;
const gzipAsync = promisify(zlib.gzip);
// Output in one piece: a block's compressed form is smaller than its input, and each output chunk costs the main thread a callback.
const gzipBlock = (input: Buffer, options: { level: number }) => gzipAsync(input, { ...options, chunkSize: BLOCK_BYTES });
const TAR_BLOCK = 512;
// Level 1: a bundle is mostly hex digests and ids, which compress about as well either way, 5 times faster.
const GZIP_LEVEL = 1;
const FILE_MODE = 0o600;

/**
 * A big bundle file written a piece at a time: the pieces are copied into 1 MiB blocks
 * (one copy, no string concatenation to flatten and encode again), and each full block
 * is hashed, counted, and compressed into `partFile`.
 */
export class CompressedBundleFile {
  private readonly hash: Hash = createHash('sha256');
  private readonly gzip = parallelGzip(GZIP_LEVEL);
  private readonly done: Promise<void>;
  private block = Buffer.allocUnsafe(BLOCK_BYTES);
  private used = 0;
  private size = 0;

  constructor(
    readonly name: string,
    readonly partFile: string,
  ) {
    this.done = pipeline(this.gzip, fs.createWriteStream(partFile, { mode: FILE_MODE }));
    // Awaited in close(); a failure meanwhile surfaces through drain() as well.
    this.done.catch(() => undefined);
  }

  /** Adds text; call drain() now and then so the compressor can keep up. */
  append(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (text.length * 3 > BLOCK_BYTES - this.used) {
      this.pushBlock();
      if (text.length * 3 > BLOCK_BYTES) {
        this.emit(Buffer.from(text));
        return;
      }
    }
    this.used += this.block.write(text, this.used);
  }

  /** Waits while the compressor is behind. */
  async drain(): Promise<void> {
    // The stream's own state, not a flag: it may have drained while the caller awaited something else.
    if (this.gzip.writableNeedDrain) await drained(this.gzip, this.done);
  }

  /** Stops writing after a failure elsewhere; the part file is left for the caller to remove. */
  abort(): void {
    this.gzip.destroy();
  }

  /** Finishes the part file; the file's SHA-256 (hex) and size. */
  async close(): Promise<{ sha256: string; size: number }> {
    this.pushBlock();
    this.gzip.end();
    await this.done;
    return { sha256: this.hash.digest('hex'), size: this.size };
  }

  private pushBlock(): void {
    if (this.used === 0) return;
    const full = this.block.subarray(0, this.used);
    this.block = Buffer.allocUnsafe(BLOCK_BYTES);
    this.used = 0;
    this.emit(full);
  }

  private emit(bytes: Buffer): void {
    this.hash.update(bytes);
    this.size += bytes.length;
    this.gzip.write(bytes);
  }
}

export type ArchiveEntry = { name: string; content: Buffer } | { name: string; compressed: CompressedBundleFile; size: number };

/** Writes `entries` in order as `prefix/name` into a .tar.gz at `file`; the archive's SHA-256 (hex) and size. */
export async function writeBundleArchive(
  file: string,
  prefix: string,
  entries: readonly ArchiveEntry[],
): Promise<{ sha256: string; bytes: number }> {
  const digest = createHash('sha256');
  let bytes = 0;
  const out = fs.createWriteStream(file, { mode: FILE_MODE });
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  closed.catch(() => undefined);
  const emit = async (chunk: Buffer) => {
    digest.update(chunk);
    bytes += chunk.length;
    if (!out.write(chunk)) await drained(out, closed);
  };
  const mtime = new Date();
  // Tar bytes not yet compressed: headers, small files and padding, which go out as one member before the next big file.
  let pending: Buffer[] = [];
  try {
    for (const entry of entries) {
      const size = 'content' in entry ? entry.content.length : entry.size;
      pending.push(tarHeader(`${prefix}/${entry.name}`, size, mtime));
      if ('content' in entry) {
        pending.push(entry.content);
      } else {
        await emit(await gzipBlock(Buffer.concat(pending), { level: GZIP_LEVEL }));
        pending = [];
        for await (const chunk of fs.createReadStream(entry.compressed.partFile, { highWaterMark: BLOCK_BYTES }))
          await emit(chunk as Buffer);
      }
      pending.push(Buffer.alloc((TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK));
    }
    // The end of the archive: two zero blocks.
    pending.push(Buffer.alloc(2 * TAR_BLOCK));
    await emit(await gzipBlock(Buffer.concat(pending), { level: GZIP_LEVEL }));
    out.end();
    await closed;
  } catch (error) {
    out.destroy();
    throw error;
  }
  return { sha256: digest.digest('hex'), bytes };
}

function tarHeader(path: string, size: number, mtime: Date): Buffer {
  const header = new tar.Header({ path, mode: FILE_MODE, size, mtime, type: 'File', uid: 0, gid: 0, uname: '', gname: '' });
  header.encode();
  // Bundle names are short and ours; a name that needed a pax header would be a bug here.
  if (header.needPax || !header.block) throw new Error(`tar header for ${path} does not fit a ustar block`);
  return header.block;
}

/** Waits for `stream` to drain, or fails with the pipeline it belongs to. */
async function drained(stream: Writable, failed: Promise<void>): Promise<void> {
  await Promise.race([
    once(stream, 'drain'),
    failed.then(() => {
      throw new Error('the stream ended before it drained');
    }),
  ]);
}

/**
 * gzip as a series of members, each a block compressed on its own on the thread pool,
 * several at once (as pigz does); gunzip and tar read the members as one stream.
 */
function parallelGzip(level: number, blockBytes = BLOCK_BYTES, inflight = os.availableParallelism()): Transform {
  let buffered: Buffer[] = [];
  let size = 0;
  const pending: Promise<Buffer>[] = [];
  const compressBlock = () => {
    if (size === 0) return;
    const block = gzipBlock(Buffer.concat(buffered, size), { level });
    // Awaited in order below; until then its failure must not count as unhandled.
    block.catch(() => undefined);
    pending.push(block);
    buffered = [];
    size = 0;
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (let at = 0; at < chunk.length;) {
        const piece = chunk.subarray(at, at + blockBytes - size);
        buffered.push(piece);
        size += piece.length;
        at += piece.length;
        if (size >= blockBytes) compressBlock();
      }
      void (async () => {
        while (pending.length >= inflight) this.push(await pending.shift()!);
      })().then(() => done(), done);
    },
    flush(done) {
      compressBlock();
      void (async () => {
        for (const block of pending.splice(0)) this.push(await block);
      })().then(() => done(), done);
    },
  });
}
