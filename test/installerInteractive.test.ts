/**
 * `switchyard install` as a person runs it at a terminal: the real CLI under a
 * pseudo-terminal (`script`), each prompt waited for on the screen before it is answered.
 * The prompts need a terminal on purpose (a pipe nobody writes to would wait forever),
 * so the test gives them one rather than a pipe.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freshDatabase } from './support/database.js';
import { BIN, childEnv, freePort, runSwitchyard } from './fixtures/processes.js';

/** How the installer shows a database URL: its password (the embedded test server's has one) as ***. */
function shownUrl(text: string): string {
  const url = new URL(text);
  if (url.password) url.password = '***';
  return url.toString();
}

const shellWord = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** What the terminal shows, without its control sequences and carriage returns. */
// eslint-disable-next-line no-control-regex -- the terminal's escape sequences are exactly what this removes
const screenText = (raw: string) => raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

interface Session {
  /** Waits until `text` is on the screen after the previous match; returns the screen up to it. */
  expect(text: string, timeoutMs?: number): Promise<string>;
  /** Types `line` and presses Enter. */
  type(line: string): void;
  /** Sends a control character (Ctrl-C, Ctrl-D) as the keyboard would. */
  key(char: '\x03' | '\x04'): void;
  exited: Promise<number | null>;
  screen(): string;
  /** Ends the session if it still runs (a failed test's leftovers); closing the terminal hangs the install up. */
  stop(): void;
}

function terminalSession(args: string[]): Session {
  const command = [process.execPath, BIN, ...args].map(shellWord).join(' ');
  // -e: script exits with the command's code; -f: output reaches us as it is written.
  const proc = spawn('script', ['-qfec', command, '/dev/null'], { env: childEnv({ SHELL: '/bin/sh' }), stdio: ['pipe', 'pipe', 'pipe'] });
  let raw = '';
  let seen = 0;
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    raw += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    proc.once('close', (code) => {
      done = true;
      proc.stdin.destroy();
      for (const listener of listeners) listener();
      resolve(code);
    }),
  );
  return {
    screen: () => screenText(raw),
    expect: (text, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const screen = screenText(raw);
          const at = screen.indexOf(text, seen);
          if (at >= 0) {
            const upTo = screen.slice(seen, at + text.length);
            seen = at + text.length;
            finish();
            resolve(upTo);
          } else if (done) {
            finish();
            reject(
              new Error(
                `the install exited before showing ${JSON.stringify(text)}; the screen after the last match:\n${screen.slice(seen)}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new Error(
              `${JSON.stringify(text)} did not appear within ${timeoutMs} ms; the screen after the last match:\n${screenText(raw).slice(seen)}`,
            ),
          );
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
    // Enter on a terminal sends a carriage return; the line discipline turns it into a newline.
    type: (line) => {
      proc.stdin.write(`${line}\r`);
    },
    key: (char) => {
      proc.stdin.write(char);
    },
    exited,
    stop: () => {
      if (!done) proc.kill('SIGTERM');
    },
  };
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-interactive-'));
}

/** Every file, folder and link under `root` with its mode, mtime and contents' digest. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir)) {
      const file = path.join(dir, entry);
      const stat = fs.lstatSync(file);
      const what = stat.isSymbolicLink()
        ? `link ${fs.readlinkSync(file)}`
        : stat.isDirectory()
          ? 'dir'
          : `file ${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
      out[path.relative(root, file)] = `${what} mode ${(stat.mode & 0o7777).toString(8)} mtime ${stat.mtimeMs}`;
      if (stat.isDirectory()) walk(file);
    }
  };
  walk(root);
  return out;
}

async function databaseCounts(url: string): Promise<{ tokens: number; events: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (
      await client.query('select (select count(*)::int from api_tokens) as tokens, (select count(*)::int from audit_events) as events')
    ).rows[0];
  } finally {
    await client.end();
  }
}

test('an interactive install asks again, naming the problem, when a port or a host name is wrong, writes nothing before the summary is confirmed, then installs the answered values', async (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const prefix = path.join(dir, 'root');
  const db = await freshDatabase();
  const port = await freePort();
  const session = terminalSession(['install', '--prefix', prefix]);
  t.teardown(() => session.stop());

  await session.expect('Listen on address [0.0.0.0]: ');
  session.type('127.0.0.1');
  await session.expect('Port [8443]: ');
  session.type('99999');
  await session.expect('the port must be a whole number from 1 to 65535, not "99999"; please answer again.');
  await session.expect('Port [8443]: ');
  session.type(String(port));
  await session.expect('Host names clients use (comma-separated) [');
  session.type('switchyard.test, bad..name');
  await session.expect('the host name "bad..name" has an empty label (two dots in a row, or a dot at either end); please answer again.');
  await session.expect('Host names clients use (comma-separated) [');
  session.type('under_score.test');
  await session.expect('the host name "under_score.test" may hold only letters, digits, hyphens and dots; please answer again.');
  await session.expect('Host names clients use (comma-separated) [');
  session.type('switchyard.test, localhost');
  await session.expect('PostgreSQL owner URL, or "embedded" [embedded]: ');
  session.type('mysql://db.example/switchyard');
  await session.expect('the database URL must start with postgres://, not mysql://; please answer again.');
  await session.expect('PostgreSQL owner URL, or "embedded" [embedded]: ');
  session.type(db);
  await session.expect('or "none" [generate]: ');
  session.type('');
  await session.expect('System user the services run as [switchyard]: ');
  session.type('sy-runner');
  const summary = await session.expect('Install now? (yes/no) [no]: ');
  t.false(fs.existsSync(prefix), 'nothing is written while the questions are asked');
  for (const line of [
    `prefix         ${prefix}`,
    `listen on      127.0.0.1:${port}`,
    'host names     switchyard.test, localhost',
    `database       ${shownUrl(db)}`,
    'TLS            a local CA',
    'service user   sy-runner',
  ]) {
    t.true(summary.includes(line), `the summary shows ${line}:\n${summary}`);
  }
  session.type('perhaps');
  await session.expect('answer "yes" or "no"; please answer again.');
  await session.expect('Install now? (yes/no) [no]: ');
  t.false(fs.existsSync(prefix));
  session.type('yes');
  await session.expect('Installed.', 120_000);
  t.is(await session.exited, 0, session.screen());
  t.regex(session.screen(), /System-admin token \(shown once, store it now\):\n {2}\S+\n/);

  const config = fs.readFileSync(path.join(prefix, 'etc/switchyard/switchyard.env'), 'utf8');
  for (const line of [
    'HOST=127.0.0.1',
    `PORT=${port}`,
    `DATABASE_URL=${db}`,
    `SWITCHYARD_TLS_CERT_FILE=${path.join(prefix, 'etc/switchyard/tls/server.pem')}`,
  ]) {
    t.true(config.split('\n').includes(line), `the config file has ${line}:\n${config}`);
  }
  const certificate = new X509Certificate(fs.readFileSync(path.join(prefix, 'etc/switchyard/tls/server.pem')));
  t.is(certificate.subjectAltName, 'DNS:switchyard.test, DNS:localhost', 'the certificate holds the answered host names');
  const unit = fs.readFileSync(path.join(prefix, 'etc/systemd/system/switchyard-api.service'), 'utf8');
  t.regex(unit, /^User=sy-runner$/m);
});

test('answering "no" at the confirmation of a second interactive install changes nothing on disk or in the database', async (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const prefix = path.join(dir, 'root');
  const db = await freshDatabase();
  const port = await freePort();
  const first = await runSwitchyard(
    [
      'install',
      '--yes',
      '--prefix',
      prefix,
      '--database-url',
      db,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--hostname',
      'localhost',
    ],
    {},
    120_000,
  );
  t.is(first.code, 0, first.stderr);
  const before = snapshot(prefix);
  const countsBefore = await databaseCounts(db);

  const session = terminalSession(['install', '--prefix', prefix, '--database-url', db, '--port', String(port)]);
  t.teardown(() => session.stop());
  await session.expect('Listen on address [0.0.0.0]: ');
  session.type('127.0.0.1');
  await session.expect(`Port [${port}]: `);
  session.type(String(await freePort()));
  await session.expect('Host names clients use (comma-separated) [');
  session.type('other.test');
  await session.expect(`PostgreSQL owner URL, or "embedded" [${shownUrl(db)}]: `);
  session.type('');
  await session.expect('or "none" [generate]: ');
  session.type('none');
  await session.expect('System user the services run as [switchyard]: ');
  session.type('');
  await session.expect('Install now? (yes/no) [no]: ');
  session.type('no');
  await session.expect('Not installed: the summary was not confirmed; nothing was changed.');
  t.is(await session.exited, 1);
  t.false(session.screen().includes('Preflight'), 'not even the preflight ran');
  t.deepEqual(snapshot(prefix), before, 'every file, mode and mtime under the prefix is as it was');
  t.deepEqual(await databaseCounts(db), countsBefore, 'no token made, nothing audited');
});

test('Ctrl-C or Ctrl-D at a prompt ends the interactive install with the reason, and neither the summary nor a prompt shows the database password', async (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const prefix = path.join(dir, 'root');

  const interrupted = terminalSession(['install', '--prefix', prefix, '--host', '127.0.0.1', '--hostname', 'localhost', '--no-tls']);
  t.teardown(() => interrupted.stop());
  for (const [prompt, answer] of [
    ['Listen on address [127.0.0.1]: ', ''],
    ['Port [8443]: ', ''],
    ['Host names clients use (comma-separated) [localhost]: ', ''],
    ['PostgreSQL owner URL, or "embedded" [embedded]: ', 'postgres://owner:s3cret-pw@db.example:5432/switchyard'],
    ['or "none" [none]: ', ''],
    ['System user the services run as [switchyard]: ', ''],
  ]) {
    await interrupted.expect(prompt!);
    interrupted.type(answer!);
  }
  const summary = await interrupted.expect('Install now? (yes/no) [no]: ');
  t.true(summary.includes('database       postgres://owner:***@db.example:5432/switchyard'), summary);
  t.false(summary.includes('s3cret-pw'), summary);
  interrupted.key('\x03');
  await interrupted.expect('switchyard: error: interrupted at the prompts; nothing was changed');
  t.is(await interrupted.exited, 1);

  // A URL given by flag is the database prompt's default: shown without its password.
  const ended = terminalSession(['install', '--prefix', prefix, '--database-url', 'postgres://owner:fl4g-pw@db.example:5432/switchyard']);
  t.teardown(() => ended.stop());
  for (const prompt of ['Listen on address [0.0.0.0]: ', 'Port [8443]: ', 'Host names clients use (comma-separated) [']) {
    await ended.expect(prompt);
    ended.type('');
  }
  const prompt = await ended.expect('PostgreSQL owner URL, or "embedded" [postgres://owner:***@db.example:5432/switchyard]: ');
  t.false(prompt.includes('fl4g-pw'), prompt);
  ended.key('\x04');
  await ended.expect('switchyard: error: the input ended before every question was answered; nothing was changed');
  t.is(await ended.exited, 1);
  t.false(fs.existsSync(prefix));
});
