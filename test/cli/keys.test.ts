import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import pg from 'pg';
import { startTestAppliance } from '../support/appliance.js';
import { runSwitchyard } from '../fixtures/processes.js';

test('switchyard keys rotate re-wraps the data keys; a fresh process decrypts with the new key file alone', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-keys-'));
  const keyFile = path.join(dir, 'master.key');
  const first = await startTestAppliance({ config: { masterKeyFile: keyFile, sandboxPoolSize: 1 } });
  const databaseUrl = first.databaseUrl;
  let second: Awaited<ReturnType<typeof startTestAppliance>> | null = null;
  const db = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  try {
    t.is(fs.statSync(keyFile).mode & 0o777, 0o600, 'the generated key file is private');
    const originalKey = fs.readFileSync(keyFile, 'utf8').trim();
    const token = (await first.tenant('keys', ['ADMIN'])).tokens['ADMIN']!;
    const set = await first.gql(
      token,
      'mutation { setCredential(input: { name: "k", type: "bearer", secret: { token: "s3cr3t-value-123" }, allowedHosts: ["api.example.com"] }) { id } }',
    );
    t.falsy(set.errors);
    const credentialId = set.data.setCredential.id;
    await first.stop();

    const env = { DATABASE_URL: databaseUrl, SWITCHYARD_MASTER_KEY_FILE: keyFile, SWITCHYARD_LOG_LEVEL: 'warn' };
    const rotated = await runSwitchyard(['keys', 'rotate'], env);
    t.is(rotated.code, 0, rotated.stderr);
    t.regex(rotated.stdout, /1 tenant data key\(s\) re-wrapped/);
    const lines = fs.readFileSync(keyFile, 'utf8').trim().split('\n');
    t.is(lines.length, 2, 'the old key stays until pruned');
    t.is(lines[1], originalKey);
    t.is(fs.statSync(keyFile).mode & 0o777, 0o600);

    const pruned = await runSwitchyard(['keys', 'rotate', '--prune'], env);
    t.is(pruned.code, 0, pruned.stderr);
    t.regex(pruned.stdout, /removed key\(s\)/);
    const after = fs.readFileSync(keyFile, 'utf8').trim().split('\n');
    t.is(after.length, 1, 'only the current key is left');
    t.false(after.includes(originalKey));

    // A new process has only the new key file: it must still open the credential.
    second = await startTestAppliance({ databaseUrl, config: { masterKeyFile: keyFile, sandboxPoolSize: 1 } });
    const lease = await second.appliance.services.credentials.issueLease({
      tenantId: (await db.query('select tenant_id from credentials where id = $1', [credentialId])).rows[0].tenant_id,
      runId: '00000000-0000-4000-8000-000000000001',
      stepId: 's',
      attempt: 1,
      pluginVersionId: '00000000-0000-4000-8000-000000000002',
      pluginName: 'http',
      allowedTypes: ['bearer'],
      credentialName: 'k',
      expiresAt: new Date(Date.now() + 60_000),
    });
    t.deepEqual(lease.secret, { token: 's3cr3t-value-123' });
    const audit = await db.query("select count(*)::int as n from audit_events where action = 'keys.master_rotated'");
    t.is(audit.rows[0].n, 2);

    fs.chmodSync(keyFile, 0o644);
    const loose = await runSwitchyard(['keys', 'rotate'], env);
    t.not(loose.code, 0);
    t.regex(loose.stderr, /readable by others.*chmod 600/);
  } finally {
    await db.end();
    await second?.stop();
  }
});
