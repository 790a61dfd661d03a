/**
 * The human-readable part of an export: summary tables a compliance officer prints. It is
 * built while the events stream past, so it keeps counts and at most `LISTED` rows per
 * table, never the whole log.
 */
import type { AuditContent } from './chain.js';

const LISTED = 500;

interface Table {
  title: string;
  matches: (e: AuditContent) => boolean;
  rows: { seq: number; e: AuditContent }[];
  total: number;
}

const PRIVILEGED_ROLES = new Set(['SYSTEM_ADMIN', 'ADMIN']);
const prefixes =
  (...p: string[]) =>
  (e: AuditContent) =>
    p.some((x) => e.action.startsWith(x));

export class AuditReportBuilder {
  private readonly tables: Table[] = [
    {
      title: 'Privileged actions',
      matches: (e) => PRIVILEGED_ROLES.has(e.actor.role) && !e.action.startsWith('audit.'),
      rows: [],
      total: 0,
    },
    { title: 'Failed sign-ins', matches: (e) => e.action === 'auth.sign_in_failed', rows: [], total: 0 },
    {
      title: 'Plugin installs and removals',
      matches: prefixes('plugin.installed', 'plugin.removed', 'plugin.unsigned_override_used', 'plugin.install_refused'),
      rows: [],
      total: 0,
    },
    { title: 'Credential changes and accesses', matches: prefixes('credential.'), rows: [], total: 0 },
    {
      title: 'Configuration changes',
      matches: prefixes('tenant.', 'plugin.policy_changed', 'integration_guard.', 'keys.', 'config.'),
      rows: [],
      total: 0,
    },
  ];
  private readonly actors = new Map<
    string,
    { name: string; role: string; events: number; failures: number; first: string; last: string }
  >();
  private first: string | null = null;
  private last: string | null = null;
  private count = 0;

  add(seq: number, e: AuditContent): void {
    this.count++;
    this.first ??= e.at;
    this.last = e.at;
    for (const table of this.tables) {
      if (!table.matches(e)) continue;
      table.total++;
      if (table.rows.length < LISTED) table.rows.push({ seq, e });
    }
    const key = `${e.actor.tokenId ?? 'system'}|${e.actor.role}`;
    const actor = this.actors.get(key) ?? { name: e.actor.name, role: e.actor.role, events: 0, failures: 0, first: e.at, last: e.at };
    actor.events++;
    if (e.outcome !== 'SUCCESS') actor.failures++;
    actor.last = e.at;
    this.actors.set(key, actor);
  }

  html(meta: { title: string; chain: string; exportedAt: string; exportedBy: string; range: string; verification: string }): string {
    const section = (t: Table) =>
      `<h2>${esc(t.title)} <small>(${t.total})</small></h2>` +
      (t.total === 0
        ? '<p class="empty">None in this period.</p>'
        : `<table><thead><tr><th>#</th><th>Time (UTC)</th><th>Actor</th><th>Role</th><th>Action</th><th>Target</th><th>Outcome</th><th>Source</th></tr></thead><tbody>${t.rows
            .map(
              ({ seq, e }) =>
                `<tr><td>${seq}</td><td>${esc(e.at)}</td><td>${esc(e.actor.name)}</td><td>${esc(e.actor.role)}</td><td>${esc(e.action)}</td><td>${esc(`${e.target.type}${e.target.id ? ` ${e.target.id}` : ''}`)}</td><td>${esc(e.outcome)}${e.reason ? `: ${esc(e.reason)}` : ''}</td><td>${esc(e.sourceAddress ?? '')}</td></tr>`,
            )
            .join('')}</tbody></table>${t.total > t.rows.length ? `<p>… and ${t.total - t.rows.length} more in events.csv.</p>` : ''}`);
    const actors = [...this.actors.values()].sort((a, b) => b.events - a.events);
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(meta.title)}</title>
<style>
body { font: 11pt/1.4 system-ui, sans-serif; margin: 2em; color: #111; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1em; font-size: 9pt; }
th, td { border: 1px solid #999; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eee; } h2 small { font-weight: normal; color: #555; } .empty { color: #555; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 1em; } dt { font-weight: bold; }
@media print { body { margin: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
</style></head><body>
<h1>${esc(meta.title)}</h1>
<dl><dt>Chain</dt><dd>${esc(meta.chain)}</dd><dt>Period</dt><dd>${esc(meta.range)}</dd><dt>Events</dt><dd>${this.count}${this.first ? ` (${esc(this.first)} to ${esc(this.last!)})` : ''}</dd>
<dt>Exported</dt><dd>${esc(meta.exportedAt)} by ${esc(meta.exportedBy)}</dd><dt>Chain verification at export</dt><dd>${esc(meta.verification)}</dd></dl>
<p>The signed manifest.json lists the SHA-256 of this file and of every other file in the bundle; <code>switchyard audit verify</code> checks them and every event's link offline.</p>
${this.tables.map(section).join('\n')}
<h2>Activity per actor <small>(${actors.length})</small></h2>
${
  actors.length === 0
    ? '<p class="empty">None in this period.</p>'
    : `<table><thead><tr><th>Actor</th><th>Role</th><th>Events</th><th>Not successful</th><th>First</th><th>Last</th></tr></thead><tbody>${actors
        .map(
          (a) =>
            `<tr><td>${esc(a.name)}</td><td>${esc(a.role)}</td><td>${a.events}</td><td>${a.failures}</td><td>${esc(a.first)}</td><td>${esc(a.last)}</td></tr>`,
        )
        .join('')}</tbody></table>`
}
</body></html>
`;
  }
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
