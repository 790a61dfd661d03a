/**
 * `switchyard audit export` (through a running appliance's API) and `switchyard audit
 * verify` (offline: only the bundle, and the certificate you were given to trust).
 */
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import { verifyAuditBundle } from '../core/audit/verifyBundle.js';
import { action, CliError, EXIT_REFUSED, readCertificates, fingerprintOf, usageError } from './cliSupport.js';
import { apiTarget, callApi, type ApiOptions } from './pluginApi.js';
import { withApiOptions } from './pluginCommands.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

interface ExportOptions extends ApiOptions {
  tenant?: string;
  from?: string;
  to?: string;
  action?: string[];
  out: string;
}

async function exportBundle(options: ExportOptions): Promise<number> {
  const target = apiTarget(options);
  if (fs.existsSync(options.out)) throw usageError(`--out ${options.out}: the file exists; give a new path`);
  const input = { tenantId: options.tenant ?? null, from: options.from ?? null, to: options.to ?? null, actions: options.action ?? null };
  const { exportAuditReport: made } = await callApi<{
    exportAuditReport: { downloadUrl: string; sha256: string; eventCount: number; verified: boolean; verificationProblem: string | null };
  }>(
    target,
    'mutation($i: AuditExportInput!) { exportAuditReport(input: $i) { downloadUrl sha256 eventCount verified verificationProblem } }',
    { i: input },
  );
  const response = await fetch(new URL(made.downloadUrl, target.endpoint), { headers: { authorization: `Bearer ${target.token}` } });
  if (!response.ok || !response.body) throw new CliError(`downloading the bundle failed: HTTP ${response.status}`, EXIT_REFUSED);
  const bytes = Buffer.from(await response.arrayBuffer());
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== made.sha256)
    throw new CliError(`the downloaded bundle's SHA-256 ${digest} is not the one the appliance reported (${made.sha256})`, EXIT_REFUSED);
  fs.writeFileSync(options.out, bytes, { mode: 0o600, flag: 'wx' });
  process.stdout.write(`wrote ${options.out}: ${made.eventCount} events, sha256 ${digest}\n`);
  if (!made.verified) process.stdout.write(`warning: the appliance found the chain damaged while exporting: ${made.verificationProblem}\n`);
  return 0;
}

async function verifyBundle(file: string, options: { trust?: string[] }): Promise<number> {
  if (!fs.existsSync(file)) throw usageError(`${file}: no such bundle`);
  const trusted = (options.trust ?? []).flatMap((f) => readCertificates(f, '--trust')).map((c) => fingerprintOf(c.x509));
  const result = await verifyAuditBundle(file, trusted);
  const m = result.manifest;
  if (m)
    process.stdout.write(
      `chain ${m.chain}: ${result.eventsChecked} events, ${result.linksChecked} links (events ${m.range.firstSeq ?? '-'} to ${m.range.lastSeq ?? '-'}), ${m.checkpointCount} checkpoints\n`,
    );
  if (result.signerFingerprint) {
    process.stdout.write(
      `signed by certificate ${result.signerFingerprint}${result.signerPinned ? ' (trusted)' : ' (not pinned: compare it with the fingerprint your appliance publishes, or pass --trust)'}\n`,
    );
  }
  if (result.ok) {
    process.stdout.write('OK: the bundle is complete and unaltered\n');
    return 0;
  }
  for (const f of result.findings) process.stdout.write(`TAMPERED: ${f.kind}${f.seq !== null ? ` at event ${f.seq}` : ''}: ${f.message}\n`);
  return EXIT_REFUSED;
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('Export and verify the tamper-evident audit log.');
  withApiOptions(
    audit
      .command('export')
      .description(
        'Export a signed audit bundle from a running appliance (exportAuditReport; AUDITOR, ADMIN or SYSTEM_ADMIN) and download it.',
      )
      .option('--tenant <id>', "system administrators: the tenant whose chain to export (default: the appliance's own events)")
      .option('--from <time>', 'events at or after this ISO 8601 time')
      .option('--to <time>', 'events before this ISO 8601 time')
      .option('--action <name>', "only this action's events (repeatable)", collect)
      .requiredOption('--out <file>', 'the bundle to write (.tar.gz); must not exist'),
  ).action(action(exportBundle));
  audit
    .command('verify')
    .description(
      "Verify an audit bundle offline: the manifest's signature, every file's digest, every checkpoint, every link. Exit 0 when it verifies, 1 naming the first bad event and the kind of tampering, 2 on usage errors.",
    )
    .argument('<bundle>', 'the bundle (.tar.gz) or its extracted folder')
    .option(
      '--trust <cert.pem>',
      "the appliance's audit signing certificate (auditSigningCertificate); repeatable. Without it the bundle's own certificate is used and reported",
      collect,
    )
    .action(action(verifyBundle));
}
