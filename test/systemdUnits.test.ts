/**
 * The systemd units `switchyard install` writes, checked by systemd's own parser:
 * `systemd-analyze verify` loads them as the manager would (no running systemd needed)
 * and says what it would ignore or refuse. What it says about units of this host that
 * ours only order after (postgresql.service may not be installed) is not about ours.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installLayout } from '../installer/install.js';
import { releaseLayout } from '../installer/release.js';
import { systemdUnit, unitName } from '../installer/systemd.js';
import { freshDatabase } from './support/database.js';
import { freePort, runSwitchyard } from './fixtures/processes.js';

const HARDENING = ['NoNewPrivileges=true', 'ProtectSystem=strict', 'PrivateTmp=true', 'LimitNOFILE=65536'];

interface Verdict {
  /** What systemd says about our units: settings it ignores, commands it cannot run. */
  problems: string[];
  /** Dependencies this host lacks, and other units' own complaints. */
  noise: string[];
}

function systemdAnalyze(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('systemd-analyze', args, { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

/** Its exit code is no verdict: a missing dependency fails it, an ignored setting does not. */
async function verify(files: string[]): Promise<Verdict> {
  const { output } = await systemdAnalyze(['verify', ...files]);
  const ours = files.map((f) => path.basename(f));
  const verdict: Verdict = { problems: [], noise: [] };
  for (const line of output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const missing = /Unit (\S+) not found/.exec(line)?.[1];
    const aboutOurs = files.some((f) => line.startsWith(`${f}:`)) || ours.some((name) => line.startsWith(`${name}:`));
    const aboutAnother =
      /^\S+\.(service|socket|target|mount|automount|swap|timer|path|slice|scope|device):/.test(line) || /^\/\S+:\d+:/.test(line);
    if (missing && !ours.includes(missing)) verdict.noise.push(line);
    else if (!aboutOurs && aboutAnother) verdict.noise.push(line);
    else verdict.problems.push(line);
  }
  return verdict;
}

test('the units an install writes pass systemd-analyze verify, with NoNewPrivileges, ProtectSystem=strict, PrivateTmp and LimitNOFILE accepted', async (t) => {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-units-'));
  t.teardown(() => fs.rmSync(prefix, { recursive: true, force: true }));
  const installed = await runSwitchyard(
    [
      'install',
      '--yes',
      '--prefix',
      prefix,
      '--database-url',
      await freshDatabase(),
      '--host',
      '127.0.0.1',
      '--port',
      String(await freePort()),
      '--hostname',
      'localhost',
      '--no-tls',
    ],
    {},
    120_000,
  );
  t.is(installed.code, 0, installed.stderr);
  const units = (['api', 'worker'] as const).map((role) => path.join(installLayout(prefix).unitDir, unitName(role)));

  const verdict = await verify(units);
  t.deepEqual(verdict.problems, [], 'systemd finds nothing wrong with the units');
  if (verdict.noise.length > 0) t.log(`not about our units: ${verdict.noise.join(' | ')}`);
  for (const unit of units) {
    const lines = fs.readFileSync(unit, 'utf8').split('\n');
    for (const directive of HARDENING) t.true(lines.includes(directive), `${path.basename(unit)} has ${directive}`);
  }

  // The same checker refuses each directive when its value is wrong, so its silence above means systemd took them.
  const broken = path.join(prefix, 'broken', 'switchyard-broken.service');
  fs.mkdirSync(path.dirname(broken));
  fs.writeFileSync(
    broken,
    fs
      .readFileSync(units[0]!, 'utf8')
      .replace('NoNewPrivileges=true', 'NoNewPrivileges=maybe')
      .replace('ProtectSystem=strict', 'ProtectSystem=strictly')
      .replace('PrivateTmp=true', 'PrivateTmp=sometimes')
      .replace('LimitNOFILE=65536', 'LimitNOFILE=lots'),
  );
  const refused = (await verify([broken])).problems.join('\n');
  for (const value of ['maybe', 'strictly', 'sometimes', 'lots'])
    t.regex(refused, new RegExp(`switchyard-broken\\.service:\\d+: Failed to parse .*: ${value}$`, 'm'));

  // How systemd's security review reads the sandboxing, from the file alone.
  const review = await systemdAnalyze(['security', '--offline=true', '--json=short', units[0]!]);
  t.is(review.code, 0, review.output);
  const settings = new Map(
    (JSON.parse(review.output) as Array<{ name: string; set: boolean; description: string }>).map((s) => [s.name, s]),
  );
  t.true(settings.get('NoNewPrivileges=')?.set, 'NoNewPrivileges in effect');
  t.true(settings.get('PrivateTmp=')?.set, 'PrivateTmp in effect');
  t.regex(settings.get('ProtectSystem=')?.description ?? '', /strict read-only access to the OS file hierarchy/);
});

test('units for a prefix with a space and a percent sign still name the right program, paths and documentation', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-units-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const prefix = path.join(root, 'Switch Yard 100%d');
  const layout = installLayout(prefix);
  // verify checks ExecStart's program exists, so a wrongly split path shows up as a missing one.
  const node = path.join(prefix, 'node runtime', 'node');
  fs.mkdirSync(path.dirname(node), { recursive: true });
  fs.symlinkSync(process.execPath, node);
  fs.mkdirSync(layout.unitDir, { recursive: true });
  const units = (['api', 'worker'] as const).map((role) => {
    const file = path.join(layout.unitDir, unitName(role));
    fs.writeFileSync(
      file,
      systemdUnit({
        role,
        serviceUser: 'switchyard',
        nodePath: node,
        appDir: releaseLayout(prefix).current,
        configFile: layout.configFile,
        dataDir: layout.dataDir,
      }),
    );
    return file;
  });
  t.deepEqual((await verify(units)).problems, [], 'no path is split, expanded or refused');
  const unit = fs.readFileSync(units[0]!, 'utf8');
  t.true(
    unit.includes(
      `ExecStart="${node.replace(/%/g, '%%')}" "${path.join(releaseLayout(prefix).current, 'dist/bin/switchyard.js').replace(/%/g, '%%')}" start --role api`,
    ),
    unit,
  );
  t.true(unit.includes(`ReadWritePaths="${layout.dataDir.replace(/%/g, '%%')}"`), unit);
});
