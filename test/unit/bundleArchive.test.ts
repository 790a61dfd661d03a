import test from 'ava';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { CompressedBundleFile, writeBundleArchive } from '../../core/audit/bundleArchive.js';

test('big files written piece by piece into two compressors at once, and small ones, come out of the archive byte for byte', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-archive-'));
  try {
    const files = [new CompressedBundleFile('a.jsonl', path.join(dir, 'a.gz')), new CompressedBundleFile('b.csv', path.join(dir, 'b.gz'))];
    const expected = files.map(() => [] as string[]);
    // Enough batches to fill the compressors' buffers many times over, as an export does:
    // they fall behind and drain while the other file is being waited for.
    for (let batch = 0; batch < 40; batch++) {
      for (let i = 0; i < 1000; i++) {
        files.forEach((file, f) => {
          const piece = `${batch}:${i}:${f} ${'x'.repeat(300 + (i % 50))} é ✓ 😀\n`;
          file.append(piece);
          expected[f]!.push(piece);
        });
      }
      for (const file of files) await file.drain();
    }
    const big = 'y'.repeat(1_500_000); // longer than a block on its own
    files[1]!.append(big);
    expected[1]!.push(big);
    const closed = await Promise.all(files.map((file) => file.close()));
    const texts = expected.map((pieces) => pieces.join(''));
    closed.forEach((c, f) => {
      t.is(c.size, Buffer.byteLength(texts[f]!));
      t.is(c.sha256, createHash('sha256').update(texts[f]!).digest('hex'));
    });
    const archive = path.join(dir, 'bundle.tar.gz');
    const small = Buffer.from('{"small":true}\n');
    const empty = Buffer.alloc(0);
    const written = await writeBundleArchive(archive, 'prefix', [
      { name: 'a.jsonl', compressed: files[0]!, size: closed[0]!.size },
      { name: 'small.json', content: small },
      { name: 'b.csv', compressed: files[1]!, size: closed[1]!.size },
      { name: 'empty', content: empty },
    ]);
    const bytes = fs.readFileSync(archive);
    t.is(written.bytes, bytes.length);
    t.is(written.sha256, createHash('sha256').update(bytes).digest('hex'));
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const listed: string[] = [];
    await tar.list({
      file: archive,
      onReadEntry: (entry) => {
        listed.push(entry.path);
      },
    });
    t.deepEqual(listed, ['prefix/a.jsonl', 'prefix/small.json', 'prefix/b.csv', 'prefix/empty'], 'entries in the order given');
    await tar.extract({ file: archive, cwd: out, strip: 1 });
    t.is(fs.readFileSync(path.join(out, 'a.jsonl'), 'utf8'), texts[0]!);
    t.is(fs.readFileSync(path.join(out, 'b.csv'), 'utf8'), texts[1]!);
    t.deepEqual(fs.readFileSync(path.join(out, 'small.json')), small);
    t.is(fs.readFileSync(path.join(out, 'empty')).length, 0);
    t.is(fs.statSync(path.join(out, 'a.jsonl')).mode & 0o777, 0o600, 'bundle files are readable by their owner only');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
