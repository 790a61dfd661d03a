import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface MasterKey {
  /** Derived from the key itself, so a wrapped data key names the master key that can open it. */
  id: string;
  key: Buffer;
}

export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

const keyId = (key: Buffer): string => createHash('sha256').update('switchyard master key id').update(key).digest('hex').slice(0, 16);

/**
 * The appliance master keys, from a key file outside the database (one base64 key per
 * line, the first is current; older ones stay during a rotation so data keys wrapped by
 * them still open). The file must be readable by the service user only.
 */
export class MasterKeyRing {
  private keys: MasterKey[];

  private constructor(
    private readonly file: string,
    keys: MasterKey[],
  ) {
    this.keys = keys;
  }

  /** Reads the key file, creating it with one new key (mode 0600) when it does not exist. */
  static open(file: string, options: { create: boolean }): { ring: MasterKeyRing; created: boolean } {
    let created = false;
    if (!fs.existsSync(file)) {
      if (!options.create) throw new MasterKeyError(`master key file ${file} does not exist`);
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      created = true;
    }
    return { ring: new MasterKeyRing(file, readKeyFile(file)), created };
  }

  get current(): MasterKey {
    return this.keys[0]!;
  }

  /** The key with this id; re-reads the file once when it is unknown (another process rotated). */
  get(id: string): MasterKey {
    let found = this.keys.find((k) => k.id === id);
    if (!found) {
      this.keys = readKeyFile(this.file);
      found = this.keys.find((k) => k.id === id);
    }
    if (!found) throw new MasterKeyError(`master key ${id} is not in ${this.file}; restore the key file from backup`);
    return found;
  }

  /** Puts a new key first in the file (atomically); the old ones stay until pruned. */
  rotate(): MasterKey {
    const fresh = randomBytes(32);
    writeKeyFile(this.file, [fresh, ...this.keys.map((k) => k.key)]);
    this.keys = readKeyFile(this.file);
    return this.current;
  }

  /** Drops keys no data key needs any more. */
  prune(keep: ReadonlySet<string>): string[] {
    const dropped = this.keys
      .slice(1)
      .filter((k) => !keep.has(k.id))
      .map((k) => k.id);
    if (dropped.length === 0) return [];
    writeKeyFile(
      this.file,
      this.keys.filter((k, i) => i === 0 || keep.has(k.id)).map((k) => k.key),
    );
    this.keys = readKeyFile(this.file);
    return dropped;
  }
}

function readKeyFile(file: string): MasterKey[] {
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw new MasterKeyError(`master key file ${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
  const keys = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((line, i) => {
      const key = Buffer.from(line, 'base64');
      if (key.length !== 32 || key.toString('base64') !== line)
        throw new MasterKeyError(`master key file ${file}: line ${i + 1} is not a base64 32-byte key`);
      return { id: keyId(key), key };
    });
  if (keys.length === 0) throw new MasterKeyError(`master key file ${file} holds no key`);
  return keys;
}

function writeKeyFile(file: string, keys: Buffer[]): void {
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, keys.map((k) => `${k.toString('base64')}\n`).join(''), { mode: 0o600 });
  fs.renameSync(temp, file);
}
