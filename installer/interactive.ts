/**
 * The interactive `switchyard install`: every answer is asked with the current value as
 * its default and checked as soon as it is given, so a wrong one is asked again with what
 * is wrong rather than failing the whole install later. The answers are then shown
 * together, and nothing is written unless that summary is confirmed.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { checkAnswers, hostnameProblem, installLayout, InstallError, type InstallAnswers } from './install.js';

type Parsed<T> = { value: T } | { problem: string };
type Parse<T> = (text: string) => Parsed<T>;

export interface Terminal {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
}

/** The confirmed answers, or null when the summary was declined. */
export async function askAnswers(start: InstallAnswers, terminal: Terminal): Promise<InstallAnswers | null> {
  const dialogue = new Dialogue(terminal);
  try {
    const host = await dialogue.ask('Listen on address', start.host, parseHost);
    const port = await dialogue.ask('Port', String(start.port), parsePort);
    const hostnames = await dialogue.ask('Host names clients use (comma-separated)', start.hostnames.join(','), parseHostnames);
    // The default is shown without its password (a URL given by flag may carry one); Enter keeps it whole.
    const databaseUrl = await dialogue.ask(
      'PostgreSQL owner URL, or "embedded"',
      start.databaseUrl ?? 'embedded',
      parseDatabase,
      start.databaseUrl ? redactUrl(start.databaseUrl) : 'embedded',
    );
    const mode = await dialogue.ask(
      'TLS: "generate" a local CA and certificate, "provided" files, or "none"',
      start.tls.mode,
      parseTlsMode,
    );
    let tls: InstallAnswers['tls'] = { mode: 'none' };
    if (mode === 'generate') tls = { mode };
    if (mode === 'provided') {
      const was = start.tls.mode === 'provided' ? start.tls : { certFile: '', keyFile: '' };
      tls = {
        mode,
        certFile: await dialogue.ask('Certificate file (PEM)', was.certFile, parseFile),
        keyFile: await dialogue.ask('Key file (PEM)', was.keyFile, parseFile),
      };
    }
    const serviceUser = await dialogue.ask('System user the services run as', start.serviceUser, parseUser);
    const answers = checkAnswers({ ...start, host, port, hostnames, databaseUrl, tls, serviceUser }, 'the answers');
    for (const line of summary(answers)) dialogue.say(line);
    return (await dialogue.ask('Install now? (yes/no)', 'no', parseYesNo)) ? answers : null;
  } finally {
    dialogue.close();
  }
}

export function summary(a: InstallAnswers): string[] {
  const layout = installLayout(a.prefix);
  const tls =
    a.tls.mode === 'generate'
      ? `a local CA (${layout.caCertFile}) and a server certificate for the host names`
      : a.tls.mode === 'provided'
        ? `the certificate ${a.tls.certFile} with the key ${a.tls.keyFile}`
        : 'none: plain HTTP (a proxy in front terminates TLS)';
  return [
    '',
    'Switchyard will be installed with:',
    `  prefix         ${a.prefix}`,
    `  listen on      ${a.host}:${a.port}`,
    `  host names     ${a.hostnames.join(', ')}`,
    `  database       ${a.databaseUrl === null ? `embedded PostgreSQL under ${layout.dataDir}` : redactUrl(a.databaseUrl)}`,
    `  TLS            ${tls}`,
    `  service user   ${a.serviceUser}`,
    ...(a.ignorePreflight ? ['  preflight      --ignore-preflight: installs even when a check fails (recorded in the audit log)'] : []),
    `It writes ${layout.configDir}, ${layout.dataDir}, ${path.join(a.prefix, 'opt/switchyard')} and the units in ${layout.unitDir}.`,
  ];
}

/** Lines typed ahead of their prompt are kept for it, as a terminal user expects. */
class Dialogue {
  private readonly rl: readline.Interface;
  private readonly lines: string[] = [];
  private waiting: { resolve: (line: string) => void; reject: (error: Error) => void } | null = null;
  private ended: InstallError | null = null;
  private closing = false;

  constructor(private readonly terminal: Terminal) {
    this.rl = readline.createInterface({ input: terminal.input, output: terminal.output, historySize: 0 });
    this.rl.on('line', (line) => {
      if (this.waiting) this.settle((w) => w.resolve(line));
      else this.lines.push(line);
    });
    this.rl.on('close', () => {
      if (!this.closing)
        this.end(new InstallError('INPUT_ENDED', 'the input ended before every question was answered; nothing was changed'));
    });
    // Without a listener readline only pauses on Ctrl-C, and the install would sit there.
    this.rl.on('SIGINT', () => {
      this.say('');
      this.end(new InstallError('INTERRUPTED', 'interrupted at the prompts; nothing was changed'));
    });
  }

  async ask<T>(question: string, fallback: string, parse: Parse<T>, shownFallback = fallback): Promise<T> {
    for (;;) {
      const typed = (await this.line(fallback === '' ? `${question}: ` : `${question} [${shownFallback}]: `)).trim();
      const parsed = parse(typed || fallback);
      if ('value' in parsed) return parsed.value;
      this.say(`  ${parsed.problem}; please answer again.`);
    }
  }

  say(text: string): void {
    this.terminal.output.write(`${text}\n`);
  }

  close(): void {
    this.closing = true;
    this.rl.close();
  }

  private line(prompt: string): Promise<string> {
    const queued = this.lines.shift();
    if (queued === undefined && this.ended) return Promise.reject(this.ended);
    if (!this.ended) {
      this.rl.setPrompt(prompt);
      this.rl.prompt();
    }
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  private end(error: InstallError): void {
    this.ended ??= error;
    if (this.waiting) this.settle((w) => w.reject(error));
  }

  private settle(fn: (w: NonNullable<Dialogue['waiting']>) => void): void {
    const waiting = this.waiting!;
    this.waiting = null;
    fn(waiting);
  }
}

function parseHost(text: string): Parsed<string> {
  const problem = hostnameProblem(text);
  return problem ? { problem: `the listen address ${problem}` } : { value: text };
}

function parsePort(text: string): Parsed<number> {
  const port = Number(text);
  return /^\d+$/.test(text) && port >= 1 && port <= 65535
    ? { value: port }
    : { problem: `the port must be a whole number from 1 to 65535, not ${JSON.stringify(text)}` };
}

function parseHostnames(text: string): Parsed<string[]> {
  const names = [
    ...new Set(
      text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  if (names.length === 0) return { problem: 'give at least one host name or address' };
  for (const name of names) {
    const problem = hostnameProblem(name);
    if (problem) return { problem: `the host name ${problem}` };
  }
  return { value: names };
}

function parseDatabase(text: string): Parsed<string | null> {
  if (text === 'embedded') return { value: null };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'the database must be a URL like postgres://switchyard@db.example:5432/switchyard, or "embedded"' };
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    return { problem: `the database URL must start with postgres://, not ${url.protocol}//` };
  if (!url.hostname) return { problem: 'the database URL names no host' };
  return { value: text };
}

function parseTlsMode(text: string): Parsed<InstallAnswers['tls']['mode']> {
  return text === 'generate' || text === 'provided' || text === 'none'
    ? { value: text }
    : { problem: `TLS must be "generate", "provided" or "none", not ${JSON.stringify(text)}` };
}

function parseFile(text: string): Parsed<string> {
  if (text === '') return { problem: "give the file's path" };
  const file = path.resolve(text);
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return fs.statSync(file).isFile() ? { value: file } : { problem: `${file} is not a file` };
  } catch (error) {
    return { problem: `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
  }
}

function parseUser(text: string): Parsed<string> {
  return /^[a-z_][a-z0-9_-]{0,31}$/.test(text)
    ? { value: text }
    : {
        problem: `${JSON.stringify(text)} is not a system user name (up to 32 lowercase letters, digits, "_" and "-", not starting with a digit or "-")`,
      };
}

function parseYesNo(text: string): Parsed<boolean> {
  const answer = text.toLowerCase();
  if (answer === 'yes' || answer === 'y') return { value: true };
  if (answer === 'no' || answer === 'n') return { value: false };
  return { problem: 'answer "yes" or "no"' };
}

/** The summary shows where the database is, never its password. */
function redactUrl(text: string): string {
  const url = new URL(text);
  if (url.password) url.password = '***';
  return url.toString();
}
