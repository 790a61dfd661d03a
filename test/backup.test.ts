/**
 * `switchyard backup` and `switchyard restore` of an appliance on its embedded
 * PostgreSQL: back up while stopped, wipe the data directory and the keys, restore, and
 * find the runs intact and the audit chain verifying. The key backup is encrypted.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, runSwitchyard } from './fixtures/processes.js';
import { startBackupSubject, stop } from './fixtures/backupSubject.js';

const ADMIN = 'sy_BaCkUpTs_0123456789abcdef0123456789abcdef';
const PASSPHRASE = 'correct horse battery staple';

test('a backup of a stopped embedded appliance restores after the data directory and keys are wiped: runs intact, audit chain verifies; a wrong passphrase restores nothing', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-backup-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  // As root, the embedded server runs as its own OS user, which must reach the data directory.
  fs.chmodSync(root, 0o755);
  const dataDir = path.join(root, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    DATABASE_URL: undefined,
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_EMBEDDED_PG_PORT: String(await freePort()),
    PORT: String(port),
    SWITCHYARD_ADMIN_TOKEN: ADMIN,
    SWITCHYARD_LOG_LEVEL: 'warn',
    SWITCHYARD_BACKUP_PASSPHRASE: PASSPHRASE,
  };
  const subject = await startBackupSubject(t, env, base, ADMIN, 'backed up');
  let appliance = subject.appliance;
  const { start, gql, tenantId, statuses, before } = subject;

  const out = path.join(root, 'backup.tar.gz');
  const keysOut = path.join(root, 'keys.json');
  const whileRunning = await runSwitchyard(['backup', '--out', out, '--keys-out', keysOut], env, 60_000);
  t.is(whileRunning.code, 1);
  t.regex(whileRunning.stderr, /the embedded database is running: stop the appliance first/);
  t.false(fs.existsSync(out));

  await stop(t, appliance);
  const made = await runSwitchyard(['backup', '--out', out, '--keys-out', keysOut], env, 120_000);
  t.is(made.code, 0, made.stderr);
  t.regex(made.stdout, /warning: the data backup is useless without the keys file/);
  t.is(fs.statSync(out).mode & 0o777, 0o600);
  t.is(fs.statSync(keysOut).mode & 0o777, 0o600);
  const masterKey = fs.readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim();
  t.false(fs.readFileSync(keysOut, 'utf8').includes(masterKey), 'the key backup is encrypted');

  fs.rmSync(dataDir, { recursive: true, force: true });
  const wrong = await runSwitchyard(['restore', out, '--keys', keysOut], { ...env, SWITCHYARD_BACKUP_PASSPHRASE: 'wrong' }, 60_000);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /could not be decrypted: wrong passphrase/);
  t.false(fs.existsSync(dataDir), 'nothing was restored');

  const restored = await runSwitchyard(['restore', out, '--keys', keysOut], env, 120_000);
  t.is(restored.code, 0, restored.stderr);
  t.is(fs.readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim(), masterKey);

  appliance = await start();
  t.deepEqual(await statuses(), before, 'every run is back as it was');
  const exported = (
    await gql('mutation($i: AuditExportInput!) { exportAuditReport(input: $i) { verified eventCount } }', { i: { tenantId } })
  ).exportAuditReport;
  t.true(exported.verified, "the tenant's audit chain verifies after the restore");
  t.true(exported.eventCount >= before.length + 2);
  await stop(t, appliance);
});
