/** The tenant at a glance: the last hour's runs, what is in flight, queued, waiting and broken. */
import { useEffect } from 'preact/hooks';
import { gql } from '../api.js';
import { OverviewDocument, type OverviewQuery } from '../gql/graphql.js';
import { Guard, Page, Section, Table, Time, short, useLoad } from '../components.js';
import { href } from '../router.js';

type Overview = OverviewQuery;

const REFRESH_MS = 10_000;

function PerMinuteChart({ minutes }: { minutes: Overview['runOverview']['runsPerMinute'] }) {
  const now = Math.floor(Date.now() / 60_000);
  const byMinute = new Map(minutes.map((m) => [Math.floor(new Date(m.minute).getTime() / 60_000), m]));
  const slots = Array.from({ length: 60 }, (_, i) => byMinute.get(now - 59 + i) ?? { started: 0, failed: 0 });
  const top = Math.max(1, ...slots.map((s) => s.started));
  const total = slots.reduce((n, s) => n + s.started, 0);
  return (
    <figure class="chart">
      <svg
        viewBox="0 0 600 120"
        preserveAspectRatio="none"
        role="img"
        aria-label={`Runs started per minute over the last hour: ${total} in all, at most ${top} in one minute`}
      >
        {slots.map((s, i) => {
          const h = (s.started / top) * 100;
          const f = (s.failed / top) * 100;
          return (
            <g>
              <rect x={i * 10 + 1} y={110 - h} width={8} height={h} class="bar" />
              {s.failed ? <rect x={i * 10 + 1} y={110 - f} width={8} height={f} class="bar failed" /> : null}
            </g>
          );
        })}
        <line x1="0" y1="110.5" x2="600" y2="110.5" class="axis" />
      </svg>
      <figcaption>Runs started per minute, last 60 minutes (failed in red). Busiest minute: {top}.</figcaption>
    </figure>
  );
}

export function OverviewPage() {
  const loaded = useLoad(() => gql(OverviewDocument), []);
  useEffect(() => {
    const timer = setInterval(loaded.reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [loaded.reload]);
  return (
    <Page title="Overview">
      <Guard loaded={loaded} what="the overview">
        {({ runOverview: o, pendingApprovals }) => (
          <>
            <dl class="cards">
              <div>
                <dt>Runs started, last hour</dt>
                <dd>{o.startedLastHour}</dd>
              </div>
              <div class={o.failedLastHour ? 'alert' : ''}>
                <dt>Failed, last hour</dt>
                <dd>{o.failedLastHour}</dd>
              </div>
              <div>
                <dt>Running</dt>
                <dd>{o.running + o.queued}</dd>
              </div>
              <div>
                <dt>Queue depth</dt>
                <dd>{o.queueDepth}</dd>
              </div>
              <div class={o.waitingApprovals ? 'attention' : ''}>
                <dt>Waiting approvals</dt>
                <dd>{o.waitingApprovals}</dd>
              </div>
              <div class={o.openCircuitBreakers ? 'alert' : ''}>
                <dt>Circuit breakers open</dt>
                <dd>{o.openCircuitBreakers}</dd>
              </div>
            </dl>
            <PerMinuteChart minutes={o.runsPerMinute} />
            <Section title="Waiting for approval">
              {pendingApprovals.length === 0 ? (
                <p class="state empty">No step is waiting for approval.</p>
              ) : (
                <Table
                  caption="Steps waiting for approval"
                  rowKey={(a) => `${a.run.id}/${a.stepId}`}
                  rows={pendingApprovals}
                  columns={[
                    { label: 'Run', cell: (a) => <a href={href(`runs/${a.run.id}`)}>{short(a.run.id)}</a> },
                    { label: 'Workflow', cell: (a) => `${a.run.workflowVersion.workflow.name} v${a.run.workflowVersion.version}` },
                    { label: 'Step', cell: (a) => a.stepId },
                    { label: 'Waiting since', cell: (a) => <Time value={a.since} /> },
                    { label: 'Times out', cell: (a) => <Time value={a.until} /> },
                  ]}
                />
              )}
            </Section>
          </>
        )}
      </Guard>
    </Page>
  );
}
