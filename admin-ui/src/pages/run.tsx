/**
 * One run: what it was given and produced, its steps, and a timeline of its events that
 * follows the run live (the runEvents subscription replays from the last event shown, then
 * streams) until it finishes. Operators cancel, retry and decide approvals here.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, gql, subscribe } from '../api.js';
import {
  RunApproveDocument,
  RunCancelDocument,
  RunDetailDocument,
  RunEventsLiveDocument,
  RunEventsPageDocument,
  RunRetryDocument,
  type RunDetailQuery,
  type RunEventsLiveSubscription,
} from '../gql/graphql.js';
import { Duration, Empty, ErrorBox, Field, Json, Loading, Page, Section, Status, Time, short, useAction, useLoad } from '../components.js';
import { href } from '../router.js';
import { can, currentSession } from '../session.js';

/** A StepFailure from the API, or the failure JSON in an event's data (which has no meaning). */
interface Failure {
  code?: string;
  message?: string;
  retryable?: boolean;
  meaning?: string | null;
}
type LoadedRun = NonNullable<RunDetailQuery['run']>;
type Step = LoadedRun['steps'][number];
type Compensation = NonNullable<Step['compensation']>;
type Origin = LoadedRun['origin'];
/** A step of the definition, as far as this page reads it. */
interface StepDef {
  id: string;
  uses: string;
  needs?: string[];
  timeoutMs?: number;
  compensate?: { uses: string };
}
/** The run with its definition's steps read out of the version's JSON. */
type Run = LoadedRun & { stepDefs: StepDef[] };
/** An event with its JSON data as an object (every event's data is one). */
type RunEvent = Omit<RunEventsLiveSubscription['runEvents'], 'data'> & { data: Record<string, unknown> };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function toEvent(event: RunEventsLiveSubscription['runEvents']): RunEvent {
  return { ...event, data: isRecord(event.data) ? event.data : {} };
}

/** The steps of a published definition (the API validated it when it was published). */
function stepDefsOf(definition: unknown): StepDef[] {
  const steps = isRecord(definition) ? definition['steps'] : undefined;
  if (!Array.isArray(steps)) return [];
  return steps.filter(isRecord).flatMap((step) => {
    if (typeof step['id'] !== 'string' || typeof step['uses'] !== 'string') return [];
    const compensate = step['compensate'];
    return [
      {
        id: step['id'],
        uses: step['uses'],
        ...(Array.isArray(step['needs']) ? { needs: step['needs'].filter((n): n is string => typeof n === 'string') } : {}),
        ...(typeof step['timeoutMs'] === 'number' ? { timeoutMs: step['timeoutMs'] } : {}),
        ...(isRecord(compensate) && typeof compensate['uses'] === 'string' ? { compensate: { uses: compensate['uses'] } } : {}),
      },
    ];
  });
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);
const RETRYABLE = new Set(['FAILED', 'CANCELLED', 'TIMED_OUT']);
/** Events arriving together (a step settling and the next starting) cause one reload. */
const RELOAD_DELAY_MS = 120;
/** Pages of events read at most when catching up at once; "Load more events" reads the rest. */
const CATCH_UP_PAGES = 10;

const isNotFound = (error: unknown) => error instanceof ApiError && error.code === 'NOT_FOUND';
const when = (iso: unknown) => (typeof iso === 'string' ? new Date(iso).toLocaleString() : null);

/**
 * The run's events: pages from the query, then, while the run is active, the subscription
 * from the last event shown (it replays what came after, then streams). `catchUp` reads
 * the pages added since, for changes the subscription did not see (a retry that finished
 * before the page subscribed again).
 */
function useTimeline(id: string, live: boolean, onEvent: (event: RunEvent) => void) {
  const [events, setEvents] = useState<RunEvent[] | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [liveError, setLiveError] = useState<unknown>(null);
  const [connection, setConnection] = useState(0);
  const latest = useRef<RunEvent[]>([]);
  // The query's position: the end of the last page it returned.
  const cursor = useRef<string | null>(null);
  const queue = useRef<Promise<boolean>>(Promise.resolve(false));
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const following = useRef(live);
  following.current = live;

  const add = (more: RunEvent[]) => {
    const bySeq = new Map(latest.current.map((e) => [e.seq, e]));
    for (const e of more) bySeq.set(e.seq, e);
    latest.current = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    setEvents(latest.current);
  };

  /** Reads the next page after the query's position; resolves with whether more remain. One at a time. */
  const loadPage = (): Promise<boolean> => {
    queue.current = queue.current.then(async () => {
      try {
        const found = (await gql(RunEventsPageDocument, { id, a: cursor.current })).run;
        if (!found) throw new ApiError('The run was not found.', 'NOT_FOUND');
        const page = found.events;
        if (page.pageInfo.endCursor) cursor.current = page.pageInfo.endCursor;
        const read = page.nodes.map(toEvent);
        add(read);
        // An active run may have moved between its own load and this page's (a step parked on
        // a delay): what the page read tells it to look again, as a live event does. A finished
        // run's page does not follow it.
        const last = read[read.length - 1];
        if (last && following.current) handler.current(last);
        setHasMore(page.pageInfo.hasNextPage);
        setError(null);
        return page.pageInfo.hasNextPage;
      } catch (e) {
        setError(e);
        return false;
      }
    });
    return queue.current;
  };

  const catchUp = async () => {
    for (let pages = 0; pages < CATCH_UP_PAGES && (await loadPage()); pages++);
  };

  useEffect(() => {
    void loadPage();
  }, []);

  const ready = events !== null;
  useEffect(() => {
    if (!live || !ready) return;
    setLiveError(null);
    const afterSeq = latest.current[latest.current.length - 1]?.seq ?? 0;
    return subscribe(
      RunEventsLiveDocument,
      { r: id, a: afterSeq },
      {
        next: ({ runEvents }) => {
          const event = toEvent(runEvents);
          add([event]);
          handler.current(event);
        },
        error: (e) => setLiveError(e),
      },
    );
  }, [live, ready, connection]);

  return {
    events,
    error,
    liveError,
    catchUp,
    // While live, the subscription brings the events after the first page.
    more: !live && hasMore ? () => void loadPage() : null,
    reconnect: () => setConnection((n) => n + 1),
  };
}

type Tone = 'ok' | 'bad' | 'wait' | 'info' | 'quiet';

function describeEvent(e: RunEvent): { label: string; detail?: string | null; tone: Tone } {
  const d = e.data;
  const failure = (d['error'] ?? d['reason']) as Failure | undefined;
  const failureText = failure?.code ? `${failure.code}: ${failure.message ?? ''}` : null;
  switch (e.type) {
    case 'RUN_CREATED':
      return { label: 'Run created', tone: 'info' };
    case 'RUN_SUCCEEDED':
      return { label: 'Run succeeded', tone: 'ok' };
    case 'RUN_FAILED':
      return { label: 'Run failed', detail: failureText, tone: 'bad' };
    case 'RUN_CANCELLED':
      return { label: 'Run cancelled', tone: 'quiet' };
    case 'RUN_TIMED_OUT':
      return { label: 'Run timed out', detail: failureText, tone: 'bad' };
    case 'RUN_RETRIED': {
      const steps = Array.isArray(d['steps']) ? (d['steps'] as string[]) : [];
      return { label: 'Run retried', detail: steps.length ? `again: ${steps.join(', ')}` : null, tone: 'info' };
    }
    case 'STEP_STARTED':
      return { label: 'Step started', detail: `attempt ${String(d['attempt'])}`, tone: 'info' };
    case 'STEP_SUCCEEDED':
      return { label: 'Step succeeded', detail: `attempt ${String(d['attempt'])}`, tone: 'ok' };
    case 'STEP_FAILED':
      return { label: 'Step failed', detail: `${failureText ?? ''}${d['willRetry'] ? ' (will retry)' : ''}`, tone: 'bad' };
    case 'STEP_RETRY_SCHEDULED':
      return { label: 'Retry scheduled', detail: `attempt ${String(d['attempt'])} at ${when(d['retryAt'])}`, tone: 'info' };
    case 'STEP_WAITING':
      return d['reason'] === 'approval'
        ? { label: 'Waiting for approval', detail: d['until'] ? `times out ${when(d['until'])}` : null, tone: 'wait' }
        : { label: 'Waiting', detail: d['until'] ? `until ${when(d['until'])}` : null, tone: 'wait' };
    case 'STEP_SKIPPED':
      return { label: 'Step skipped', detail: typeof d['condition'] === 'string' ? `if ${d['condition']}` : null, tone: 'quiet' };
    case 'STEP_CANCELLED':
      return { label: 'Step cancelled', tone: 'quiet' };
    case 'STEP_RELEASED':
      return { label: 'Step released to the queue', detail: 'the worker shut down; the attempt runs again', tone: 'info' };
    case 'STEP_DEFERRED':
      return { label: 'Step held back', detail: `${failureText ?? ''} until ${when(d['until'])}`, tone: 'wait' };
    case 'RUN_COMPENSATING': {
      const steps = Array.isArray(d['steps']) ? (d['steps'] as string[]) : [];
      return { label: 'Run failed: compensating', detail: `${failureText ?? ''}; undoing ${steps.join(', ')}`, tone: 'bad' };
    }
    case 'COMPENSATION_STARTED':
      return { label: 'Compensation started', detail: `attempt ${String(d['attempt'])}`, tone: 'info' };
    case 'COMPENSATION_SUCCEEDED':
      return { label: 'Compensation succeeded', detail: `attempt ${String(d['attempt'])}`, tone: 'ok' };
    case 'COMPENSATION_FAILED':
      return { label: 'Compensation failed', detail: `${failureText ?? ''}${d['willRetry'] ? ' (will retry)' : ''}`, tone: 'bad' };
    case 'COMPENSATION_RETRY_SCHEDULED':
      return { label: 'Compensation retry scheduled', detail: `attempt ${String(d['attempt'])} at ${when(d['retryAt'])}`, tone: 'info' };
    case 'COMPENSATION_CANCELLED':
      return { label: 'Compensation cancelled', tone: 'quiet' };
    case 'COMPENSATION_RELEASED':
      return { label: 'Compensation released to the queue', detail: 'the worker shut down; the attempt runs again', tone: 'info' };
    case 'COMPENSATION_DEFERRED':
      return { label: 'Compensation held back', detail: `${failureText ?? ''} until ${when(d['until'])}`, tone: 'wait' };
    default:
      return { label: e.type, tone: 'info' };
  }
}

function Timeline({ events }: { events: RunEvent[] }) {
  return (
    <ol class="timeline" aria-label="Run events">
      {events.map((e) => {
        const { label, detail, tone } = describeEvent(e);
        return (
          <li key={e.seq} class={`tl-${tone}`}>
            <div class="tl-head">
              <strong>{label}</strong>
              {e.stepId ? <code>{e.stepId}</code> : null}
            </div>
            {detail ? <div class="tl-detail">{detail}</div> : null}
            <div class="muted tl-when">
              <Time value={e.at} /> · event {e.seq}
            </div>
            {Object.keys(e.data).length > 0 ? (
              <details>
                <summary>Data</summary>
                <Json value={e.data} label={`Data of event ${e.seq}`} />
              </details>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}

function FailureText({ error }: { error: Failure | null }) {
  if (!error) return <span class="muted">none</span>;
  return (
    <p class="failure">
      <code title={error.meaning ?? undefined}>{error.code ?? 'ERROR'}</code> {error.message ?? ''}
      {error.retryable ? <span class="muted"> (retryable)</span> : null}
    </p>
  );
}

/** The two-click confirmation the console uses for destructive actions. */
function Confirm({
  label,
  confirmLabel,
  keepLabel,
  pending,
  onConfirm,
}: {
  label: string;
  confirmLabel: string;
  keepLabel: string;
  pending: boolean;
  onConfirm: () => void;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" class="danger" disabled={pending} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <>
      <button
        type="button"
        class="danger"
        disabled={pending}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {pending ? 'Working…' : confirmLabel}
      </button>
      <button type="button" disabled={pending} onClick={() => setAsking(false)}>
        {keepLabel}
      </button>
    </>
  );
}

function ApprovalForm({ run, step, until, done }: { run: Run; step: Step; until: string | null; done: (message: string) => void }) {
  const [comment, setComment] = useState('');
  const [confirmReject, setConfirmReject] = useState(false);
  const decide = useAction(async (approved: boolean) => {
    await gql(RunApproveDocument, {
      i: { runId: run.id, stepId: step.stepId, approved, ...(comment.trim() ? { comment: comment.trim() } : {}) },
    });
    done(approved ? `Step "${step.stepId}" was approved.` : `Step "${step.stepId}" was rejected.`);
  });
  return (
    <form
      class="approval"
      aria-label={`Approve or reject ${step.stepId}`}
      onSubmit={(e) => {
        e.preventDefault();
        void decide.run(true);
      }}
    >
      <p class="notice">
        <strong>Waiting for approval.</strong>{' '}
        {until ? (
          <>
            Times out <Time value={until} />.
          </>
        ) : (
          'It waits until someone decides.'
        )}
      </p>
      <Field label="Approval comment" hint="Optional. Saved with the decision and shown in the step's output; at most 2000 characters.">
        {(props) => (
          <textarea
            {...props}
            class="comment"
            value={comment}
            onInput={(e) => {
              setComment(e.currentTarget.value);
              decide.clear();
            }}
            disabled={decide.pending}
          />
        )}
      </Field>
      <div class="row">
        <button type="submit" class="primary" disabled={decide.pending}>
          {decide.pending ? 'Sending…' : 'Approve'}
        </button>
        {confirmReject ? (
          <>
            <button
              type="button"
              class="danger"
              disabled={decide.pending}
              onClick={() => {
                setConfirmReject(false);
                void decide.run(false);
              }}
            >
              Confirm reject
            </button>
            <button type="button" disabled={decide.pending} onClick={() => setConfirmReject(false)}>
              Keep waiting
            </button>
            <span class="muted">Rejecting fails this step and the run.</span>
          </>
        ) : (
          <button type="button" class="danger" disabled={decide.pending} onClick={() => setConfirmReject(true)}>
            Reject
          </button>
        )}
      </div>
      <ErrorBox error={decide.error} title="The decision was not accepted" />
    </form>
  );
}

function StepCard({
  run,
  step,
  def,
  waiting,
  done,
}: {
  run: Run;
  step: Step;
  def: StepDef | undefined;
  waiting: RunEvent | undefined;
  done: (message: string) => void;
}) {
  const headingId = `step-${step.stepId}`;
  const forApproval =
    step.status === 'WAITING' && (waiting?.data['reason'] === 'approval' || (!waiting && def?.uses === 'core/approval@1'));
  const until = typeof waiting?.data['until'] === 'string' ? waiting.data['until'] : null;
  return (
    <article class="step-card" aria-labelledby={headingId}>
      <header class="step-head">
        <h3 id={headingId}>{step.stepId}</h3>
        <Status value={step.status} />
        {def ? <code class="muted">{def.uses}</code> : null}
        {def?.needs?.length ? <span class="muted">after {def.needs.join(', ')}</span> : null}
      </header>
      <dl class="step-facts">
        <div>
          <dt>Attempts</dt>
          <dd>{step.attempts}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>
            <Time value={step.startedAt} />
          </dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>
            <Time value={step.finishedAt} />
          </dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>
            <Duration from={step.startedAt} to={step.finishedAt ?? (TERMINAL.has(run.status) ? run.finishedAt : null)} />
          </dd>
        </div>
        {step.status === 'WAITING' && !forApproval && until ? (
          <div>
            <dt>Waiting until</dt>
            <dd>
              <Time value={until} />
            </dd>
          </div>
        ) : null}
      </dl>
      {forApproval ? (
        can('run:operate') ? (
          <ApprovalForm run={run} step={step} until={until} done={done} />
        ) : (
          <p class="notice">
            <strong>Waiting for approval.</strong> Your role can see this step but not decide it.
          </p>
        )
      ) : null}
      <div class="step-data">
        <div>
          <h4>Input</h4>
          <Json value={step.input} label={`Input of ${step.stepId}`} />
        </div>
        <div>
          <h4>Output</h4>
          <Json value={step.output} label={`Output of ${step.stepId}`} />
        </div>
        {step.error ? (
          <div>
            <h4>Error</h4>
            <FailureText error={step.error} />
          </div>
        ) : null}
      </div>
      {step.compensation ? <CompensationPanel step={step} compensation={step.compensation} uses={def?.compensate?.uses} /> : null}
    </article>
  );
}

/** A step's undo after its run failed: what ran, how often, with what result. */
function CompensationPanel({ step, compensation: c, uses }: { step: Step; compensation: Compensation; uses: string | undefined }) {
  return (
    <section class="compensation" aria-label={`Compensation of ${step.stepId}`}>
      <h4>
        Compensation <Status value={c.status} /> {uses ? <code class="muted">{uses}</code> : null}
      </h4>
      <dl class="step-facts">
        <div>
          <dt>Order</dt>
          <dd>{c.order + 1}</dd>
        </div>
        <div>
          <dt>Attempts</dt>
          <dd>{c.attempts}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>
            <Time value={c.startedAt} />
          </dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>
            <Time value={c.finishedAt} />
          </dd>
        </div>
      </dl>
      <div class="step-data">
        <div>
          <h4>Output</h4>
          <Json value={c.output} label={`Compensation output of ${step.stepId}`} />
        </div>
        {c.error ? (
          <div>
            <h4>Error</h4>
            <FailureText error={c.error} />
          </div>
        ) : null}
      </div>
    </section>
  );
}

function OriginText({ origin }: { origin: Origin }) {
  if (origin.kind === 'WEBHOOK')
    return (
      <>
        Webhook <code>{short(origin.webhookTriggerId ?? '')}</code>
        {origin.deliveryId ? (
          <>
            , delivery <code>{origin.deliveryId}</code>
          </>
        ) : null}
      </>
    );
  if (origin.kind === 'SCHEDULE')
    return (
      <>
        Schedule <code>{short(origin.scheduleId ?? '')}</code>, slot <Time value={origin.slot} />
      </>
    );
  return (
    <>
      API, token <code>{short(origin.tokenId ?? '')}</code>
    </>
  );
}

function Frame({ id, actions, children }: { id: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <Page title={`Run ${short(id)}`} actions={actions}>
      {children}
    </Page>
  );
}

export function RunPage({ id }: { id: string }) {
  // Another run is another page: nothing of the previous one (its data, its subscription) carries over.
  return <RunView key={id} id={id} />;
}

function RunView({ id }: { id: string }) {
  const loaded = useLoad(async (): Promise<Run> => {
    const run = (await gql(RunDetailDocument, { id })).run;
    if (!run) throw new ApiError('The run was not found.', 'NOT_FOUND');
    return { ...run, stepDefs: stepDefsOf(run.workflowVersion.definition) };
  }, [id]);
  const run = loaded.data;
  const live = run !== undefined && !TERMINAL.has(run.status);
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (reloadTimer.current) clearTimeout(reloadTimer.current);
    },
    [],
  );
  const timeline = useTimeline(id, live, () => {
    if (reloadTimer.current) return;
    reloadTimer.current = setTimeout(() => {
      reloadTimer.current = null;
      loaded.reload();
    }, RELOAD_DELAY_MS);
  });
  // The run changed (an action, a reload): the timeline reads what it may have missed.
  const change = run ? `${run.status} ${run.finishedAt ?? ''}` : null;
  const seen = useRef<string | null>(null);
  useEffect(() => {
    if (change === null) return;
    if (seen.current !== null && seen.current !== change) void timeline.catchUp();
    seen.current = change;
  }, [change]);
  // While the run is active its durations keep counting.
  const [, tick] = useState(0);
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [live]);

  const [message, setMessage] = useState<string | null>(null);
  const done = (text: string) => {
    setMessage(text);
    loaded.reload();
  };
  const cancel = useAction(async () => {
    await gql(RunCancelDocument, { id });
    done('The run was cancelled.');
  });
  const retry = useAction(async () => {
    await gql(RunRetryDocument, { id });
    done('The run was retried: its failed and cancelled steps run again; succeeded steps keep their output.');
  });
  const refused = cancel.error ?? retry.error;
  // A refusal usually means the run changed meanwhile: show what it is now.
  useEffect(() => {
    if (refused) loaded.reload();
  }, [refused]);

  if (run === undefined) {
    if (isNotFound(loaded.error)) {
      const tenant = currentSession()?.viewer.tenant?.name;
      return (
        <Page title="Run not found">
          <Empty>
            There is no run <code>{id}</code>
            {tenant ? <> in {tenant}</> : null}. The address may be mistyped, or the run belongs to another tenant.{' '}
            <a href={href('runs')}>Back to runs</a>
          </Empty>
        </Page>
      );
    }
    return (
      <Frame id={id}>{loaded.error ? <ErrorBox error={loaded.error} title="Could not load the run" /> : <Loading what="the run" />}</Frame>
    );
  }

  const operate = can('run:operate');
  const pending = cancel.pending || retry.pending;
  // A compensated run's succeeded steps were undone: the API refuses to retry it.
  const compensated = run.steps.some((s) => s.compensation !== null);
  const defs = new Map(run.stepDefs.map((s) => [s.id, s]));
  const lastWaiting = new Map<string, RunEvent>();
  for (const e of timeline.events ?? []) if (e.type === 'STEP_WAITING' && e.stepId) lastWaiting.set(e.stepId, e);
  const actions = operate ? (
    <>
      {live ? (
        <Confirm
          label="Cancel run"
          confirmLabel="Confirm cancel"
          keepLabel="Keep running"
          pending={pending}
          onConfirm={() => {
            setMessage(null);
            void cancel.run();
          }}
        />
      ) : null}
      {RETRYABLE.has(run.status) && !compensated ? (
        <button
          type="button"
          class="primary"
          disabled={pending}
          onClick={() => {
            setMessage(null);
            void retry.run();
          }}
        >
          {retry.pending ? 'Retrying…' : 'Retry run'}
        </button>
      ) : null}
    </>
  ) : null;

  return (
    <Frame id={id} actions={actions}>
      {message ? (
        <p class="success" role="status">
          {message}
        </p>
      ) : null}
      <ErrorBox error={cancel.error} title="The appliance refused to cancel the run" />
      <ErrorBox error={retry.error} title="The appliance refused to retry the run" />
      {loaded.error ? <ErrorBox error={loaded.error} title="Could not refresh the run" /> : null}
      <Section
        title="Summary"
        actions={
          live ? (
            <span class={timeline.liveError ? 'live stopped' : 'live'} role="status">
              {timeline.liveError ? 'Live updates stopped' : 'Live'}
            </span>
          ) : null
        }
      >
        <div class="run-summary">
          <dl class="facts run-facts">
            <dt>Status</dt>
            <dd>
              <Status value={run.status} />
            </dd>
            <dt>Workflow</dt>
            <dd>
              <a href={href(`workflows/${run.workflowVersion.workflow.id}`)}>{run.workflowVersion.workflow.name}</a>
            </dd>
            <dt>Version</dt>
            <dd>v{run.workflowVersion.version}</dd>
            <dt>Run ID</dt>
            <dd>
              <code>{run.id}</code>
            </dd>
            <dt>Started by</dt>
            <dd>
              <OriginText origin={run.origin} />
            </dd>
            <dt>Created</dt>
            <dd>
              <Time value={run.createdAt} />
            </dd>
            <dt>Finished</dt>
            <dd>
              <Time value={run.finishedAt} />
            </dd>
            <dt>Duration</dt>
            <dd>
              <Duration from={run.createdAt} to={run.finishedAt} />
            </dd>
            {live ? (
              <>
                <dt>Deadline</dt>
                <dd>
                  <Time value={run.deadlineAt} />
                </dd>
              </>
            ) : null}
            {run.idempotencyKey ? (
              <>
                <dt>Idempotency key</dt>
                <dd>
                  <code>{run.idempotencyKey}</code>
                </dd>
              </>
            ) : null}
          </dl>
          {run.error ? (
            <div class="run-error" role="group" aria-label="Run error">
              <h3>Error</h3>
              <FailureText error={run.error} />
            </div>
          ) : null}
          {compensated ? (
            <p class="notice" role="status">
              {live
                ? 'The run failed and is undoing its succeeded steps, last completed first.'
                : 'The run failed and its succeeded steps were compensated; it cannot be retried. Start a new run instead.'}
            </p>
          ) : null}
        </div>
        {!operate ? <p class="muted">Your role can view runs but not cancel, retry or approve them.</p> : null}
      </Section>
      <div class="grid-2 run-io">
        <Section title="Input">
          <Json value={run.input} label="Run input" />
        </Section>
        <Section title="Output">
          <Json value={run.output} label="Run output" />
        </Section>
      </div>
      <div class="run-layout">
        <Section title="Steps">
          {run.steps.length === 0 ? (
            <Empty>This run has no steps.</Empty>
          ) : (
            run.steps.map((step) => (
              <StepCard
                key={step.stepId}
                run={run}
                step={step}
                def={defs.get(step.stepId)}
                waiting={lastWaiting.get(step.stepId)}
                done={done}
              />
            ))
          )}
        </Section>
        <Section title="Timeline">
          {timeline.liveError ? (
            <div class="row">
              <ErrorBox error={timeline.liveError} title="Live updates stopped" />
              <button
                type="button"
                onClick={() => {
                  timeline.reconnect();
                  loaded.reload();
                }}
              >
                Reconnect
              </button>
            </div>
          ) : null}
          {timeline.error ? <ErrorBox error={timeline.error} title="Could not load the run's events" /> : null}
          {timeline.events === null ? (
            timeline.error ? null : (
              <Loading what="events" />
            )
          ) : timeline.events.length === 0 ? (
            <Empty>No events yet.</Empty>
          ) : (
            <Timeline events={timeline.events} />
          )}
          {timeline.more ? (
            <button type="button" onClick={timeline.more}>
              Load more events
            </button>
          ) : null}
        </Section>
      </div>
    </Frame>
  );
}
