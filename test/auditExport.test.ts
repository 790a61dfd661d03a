/**
 * Compliance export: who may export, what a bundle holds (one tenant's events only), that
 * it verifies offline (with `switchyard audit verify` and with openssl and sha256sum), and
 * that every edit of a bundle after export is named at the right event.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { verifyAuditBundle } from '../core/audit/verifyBundle.js';
import { generateAuditSigningKey, AuditSigningKey } from '../core/audit/signingKey.js';
import { startTestAppliance, ADMIN_TOKEN, type TestAppliance } from './support/appliance.js';
import { runSwitchyard } from './fixtures/processes.js';

let app: TestAppliance;
let a: { id: string; tokens: Record<string, string> };
let b: { id: string; tokens: Record<string, string> };
let bundle: string;
let work: string;

async function download(token: string, url: string): Promise<Response> {
  return fetch(new URL(url, app.url), { headers: { authorization: `Bearer ${token}` } });
}

async function exportAs(token: string, input: Record<string, unknown> = {}) {
  return app.gql(
    token,
    'mutation($i: AuditExportInput!) { exportAuditReport(input: $i) { id downloadUrl sha256 eventCount firstSeq lastSeq verified verificationProblem } }',
    { i: input },
  );
}

test.before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-audit-export-'));
  app = await startTestAppliance({ config: { auditCheckpointEvents: 3, sandboxPoolSize: 1, dataDir: work } });
  a = await app.tenant('export-a', ['ADMIN', 'AUDITOR', 'OPERATOR']);
  b = await app.tenant('export-b', ['ADMIN']);
  for (let i = 0; i < 4; i++) {
    await app.gql(
      a.tokens['ADMIN']!,
      'mutation($n: String!) { createWorkflow(input: { name: $n, definition: { steps: [{ id: "a", uses: "core/noop@1" }] } }) { id } }',
      { n: `wf-${i}` },
    );
    await app.gql(
      b.tokens['ADMIN']!,
      'mutation($n: String!) { createWorkflow(input: { name: $n, definition: { steps: [{ id: "a", uses: "core/noop@1" }] } }) { id } }',
      { n: `secret-of-b-${i}` },
    );
  }
  const made = await exportAs(a.tokens['AUDITOR']!);
  if (!made.data) throw new Error(JSON.stringify(made.errors));
  const response = await download(a.tokens['AUDITOR']!, made.data.exportAuditReport.downloadUrl);
  if (response.status !== 200) throw new Error(`download: HTTP ${response.status}`);
  bundle = path.join(work, 'a.tar.gz');
  fs.writeFileSync(bundle, Buffer.from(await response.arrayBuffer()));
});

test.after.always(async () => {
  await app?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

/** An extracted copy of the bundle, edited by `edit`. */
async function editedCopy(edit: (dir: string) => void): Promise<string> {
  const dir = fs.mkdtempSync(path.join(work, 'copy-'));
  await tar.extract({ file: bundle, cwd: dir, strip: 1 });
  edit(dir);
  return dir;
}
const lines = (dir: string) => fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean);
const writeLines = (dir: string, l: string[]) => fs.writeFileSync(path.join(dir, 'events.jsonl'), `${l.join('\n')}\n`);

test("an AUDITOR exports a bundle that verifies offline and holds only its tenant's events, the export itself among them", async (t) => {
  const result = await verifyAuditBundle(bundle);
  t.true(result.ok, JSON.stringify(result.findings));
  const dir = await editedCopy(() => undefined);
  t.deepEqual(fs.readdirSync(dir).sort(), [
    'SHA256SUMS',
    'certificates.pem',
    'checkpoints.jsonl',
    'events.csv',
    'events.jsonl',
    'manifest.json',
    'manifest.json.sig',
    'report.html',
  ]);
  const events = lines(dir).map((l) => JSON.parse(l));
  t.true(events.every((e) => e.tenantId === a.id));
  t.deepEqual(
    events.map((e) => e.seq),
    events.map((_, i) => i + 1),
  );
  t.true(events.some((e) => e.action === 'audit.exported'));
  for (const file of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, file), 'latin1');
    t.false(text.includes(b.id), `${file} names tenant B`);
    t.false(text.includes('secret-of-b'), `${file} holds tenant B's data`);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  t.is(manifest.eventCount, events.length);
  t.is(manifest.chain, a.id);
  t.true(manifest.checkpointCount >= 1);
  const csv = fs.readFileSync(path.join(dir, 'events.csv'), 'utf8').trim().split('\n');
  t.is(csv.length, events.length + 1);
  const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
  t.regex(html, /Privileged actions/);
  t.regex(html, /Activity per actor/);
});

test('the signature and digests check with openssl and sha256sum against the certificate the API publishes', async (t) => {
  const dir = await editedCopy(() => undefined);
  const cert = await app.gql(a.tokens['AUDITOR']!, '{ auditSigningCertificate { fingerprint pem } }');
  fs.writeFileSync(path.join(dir, 'signer.pem'), cert.data.auditSigningCertificate.pem);
  execFileSync('openssl', ['x509', '-in', 'signer.pem', '-pubkey', '-noout', '-out', 'signer.pub'], { cwd: dir });
  const ok = execFileSync(
    'openssl',
    [
      'dgst',
      '-sha256',
      '-sigopt',
      'rsa_padding_mode:pss',
      '-sigopt',
      'rsa_pss_saltlen:32',
      '-verify',
      'signer.pub',
      '-signature',
      'manifest.json.sig',
      'manifest.json',
    ],
    { cwd: dir },
  ).toString();
  t.regex(ok, /Verified OK/);
  t.regex(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir }).toString(), /events\.jsonl: OK/);
  fs.appendFileSync(path.join(dir, 'manifest.json'), ' ');
  t.throws(() =>
    execFileSync(
      'openssl',
      [
        'dgst',
        '-sha256',
        '-sigopt',
        'rsa_padding_mode:pss',
        '-sigopt',
        'rsa_pss_saltlen:32',
        '-verify',
        'signer.pub',
        '-signature',
        'manifest.json.sig',
        'manifest.json',
      ],
      { cwd: dir, stdio: 'pipe' },
    ),
  );
  // Pinned to the published certificate, the CLI verifies and says so.
  const verified = await runSwitchyard(['audit', 'verify', bundle, '--trust', path.join(dir, 'signer.pem')], {});
  t.is(verified.code, 0, verified.stderr);
  t.regex(verified.stdout, /\(trusted\)/);
  t.regex(verified.stdout, /OK: the bundle is complete and unaltered/);
});

test('bundle tamper matrix: verify names the kind and the first bad event, and the CLI exits 1', async (t) => {
  const original = await editedCopy(() => undefined);
  const total = lines(original).length;
  const firstCheckpoint = JSON.parse(fs.readFileSync(path.join(original, 'checkpoints.jsonl'), 'utf8').split('\n')[0]!).seq as number;
  const cases: [string, (dir: string) => void, { kind: string; seq: number | null }][] = [
    [
      'a modified field',
      (d) => {
        const l = lines(d);
        const e = JSON.parse(l[2]!);
        e.outcome = 'FAILURE';
        l[2] = JSON.stringify(e);
        writeLines(d, l);
      },
      { kind: 'MODIFIED', seq: 3 },
    ],
    [
      'a deleted event',
      (d) => {
        const l = lines(d);
        l.splice(3, 1);
        writeLines(d, l);
      },
      { kind: 'MISSING', seq: 4 },
    ],
    [
      'reordered events',
      (d) => {
        const l = lines(d);
        [l[4], l[5]] = [l[5]!, l[4]!];
        writeLines(d, l);
      },
      { kind: 'MISSING', seq: 5 },
    ],
    [
      'an inserted forged event',
      (d) => {
        const l = lines(d);
        const e = JSON.parse(l[1]!);
        e.seq = 3;
        e.action = 'run.started';
        l.splice(2, 0, JSON.stringify(e));
        writeLines(d, l);
      },
      { kind: 'MODIFIED', seq: 3 },
    ],
    [
      'a truncated tail',
      (d) => {
        const l = lines(d);
        writeLines(d, l.slice(0, l.length - 2));
      },
      { kind: 'TRUNCATED', seq: total - 1 },
    ],
    [
      'a forged checkpoint signature',
      (d) => {
        const cps = fs
          .readFileSync(path.join(d, 'checkpoints.jsonl'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((x) => JSON.parse(x));
        cps[0].hash = 'f'.repeat(64);
        fs.writeFileSync(path.join(d, 'checkpoints.jsonl'), cps.map((c) => `${JSON.stringify(c)}\n`).join(''));
      },
      { kind: 'CHECKPOINT_SIGNATURE', seq: firstCheckpoint },
    ],
    [
      'the report edited after export',
      (d) => fs.appendFileSync(path.join(d, 'report.html'), '<!-- edited -->'),
      { kind: 'FILE_MODIFIED', seq: null },
    ],
    [
      'the manifest edited after export',
      (d) => {
        const m = JSON.parse(fs.readFileSync(path.join(d, 'manifest.json'), 'utf8'));
        m.eventCount += 1;
        fs.writeFileSync(path.join(d, 'manifest.json'), JSON.stringify(m, null, 2));
      },
      { kind: 'MANIFEST_SIGNATURE', seq: null },
    ],
  ];
  for (const [name, edit, expected] of cases) {
    const dir = await editedCopy(edit);
    const result = await verifyAuditBundle(dir);
    t.false(result.ok, name);
    t.like(result.finding, expected, `${name}: ${JSON.stringify(result.findings)}`);
    if (name === 'a modified field')
      t.true(
        result.findings.some((f) => f.kind === 'FILE_MODIFIED'),
        'the file digest is wrong too',
      );
  }
  const cli = await runSwitchyard(['audit', 'verify', await editedCopy(cases[1]![1])], {});
  t.is(cli.code, 1);
  t.regex(cli.stdout, /TAMPERED: MISSING at event 4/);
});

test("a bundle re-signed with another key verifies only unpinned; pinned to the appliance's certificate it is refused", async (t) => {
  const other = AuditSigningKey.fromPem(generateAuditSigningKey('impostor'));
  const dir = await editedCopy((d) => {
    fs.appendFileSync(path.join(d, 'certificates.pem'), other.certificatePem);
    const m = JSON.parse(fs.readFileSync(path.join(d, 'manifest.json'), 'utf8'));
    m.signingKeyFingerprint = other.fingerprint;
    m.files['certificates.pem'] = createHash('sha256')
      .update(fs.readFileSync(path.join(d, 'certificates.pem')))
      .digest('hex');
    const text = `${JSON.stringify(m, null, 2)}\n`;
    fs.writeFileSync(path.join(d, 'manifest.json'), text);
    fs.writeFileSync(path.join(d, 'manifest.json.sig'), Buffer.from(other.sign(text), 'base64'));
  });
  const published = (await app.gql(a.tokens['AUDITOR']!, '{ auditSigningCertificate { fingerprint } }')).data.auditSigningCertificate
    .fingerprint;
  const pinned = await verifyAuditBundle(dir, [published]);
  t.like(pinned.finding, { kind: 'MANIFEST_SIGNATURE' });
  const unpinned = await verifyAuditBundle(dir);
  t.true(unpinned.ok);
  t.is(unpinned.signerFingerprint, other.fingerprint);
  t.false(unpinned.signerPinned);
});

test("who may export and download: AUDITOR and ADMIN of the tenant, a system admin; an OPERATOR cannot; another tenant's export is NOT_FOUND", async (t) => {
  const refused = await exportAs(a.tokens['OPERATOR']!);
  t.is(refused.errors?.[0]?.extensions.code, 'FORBIDDEN');
  const byAdmin = await exportAs(a.tokens['ADMIN']!, { actions: ['workflow.created'] });
  t.true(byAdmin.data.exportAuditReport.verified);
  t.is(byAdmin.data.exportAuditReport.eventCount, 4);
  t.is((await download(a.tokens['OPERATOR']!, byAdmin.data.exportAuditReport.downloadUrl)).status, 403);
  t.is((await download(b.tokens['ADMIN']!, byAdmin.data.exportAuditReport.downloadUrl)).status, 404);
  t.is((await download('sy_nottoken', byAdmin.data.exportAuditReport.downloadUrl)).status, 401);
  const sys = await exportAs(ADMIN_TOKEN, { tenantId: b.id });
  t.true(sys.data.exportAuditReport.verified);
  const sysFile = await download(ADMIN_TOKEN, sys.data.exportAuditReport.downloadUrl);
  t.is(sysFile.status, 200);
  const file = path.join(work, 'b.tar.gz');
  fs.writeFileSync(file, Buffer.from(await sysFile.arrayBuffer()));
  const verified = await verifyAuditBundle(file);
  t.true(verified.ok);
  t.is(verified.manifest?.chain, b.id);
  const bad = await exportAs(a.tokens['AUDITOR']!, { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' });
  t.is(bad.errors?.[0]?.extensions.code, 'BAD_USER_INPUT');
  t.regex(bad.errors![0]!.message, /input\.to/);
  const badAction = await exportAs(a.tokens['AUDITOR']!, { actions: ['DROP TABLE'] });
  t.regex(badAction.errors![0]!.message, /input\.actions\[0\]/);
  const names = (n: number) =>
    Array.from({ length: n }, (_, i) => `act.${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`);
  t.true((await exportAs(a.tokens['AUDITOR']!, { actions: names(100) })).data.exportAuditReport.verified, 'exactly 100 actions');
  const tooMany = await exportAs(a.tokens['AUDITOR']!, { actions: names(101) });
  t.is(tooMany.errors?.[0]?.extensions.code, 'BAD_USER_INPUT');
  t.regex(tooMany.errors![0]!.message, /at most 100/);
  // Access to the log is logged.
  const log = await app.gql(
    a.tokens['AUDITOR']!,
    '{ auditEvents(first: 100, filter: { action: "audit.export_downloaded" }) { nodes { actorRole } } }',
  );
  t.true(log.data.auditEvents.nodes.length >= 1);
});
