/**
 * A workflow's triggers: its webhook URLs (a new one's signing secret shown once) and its
 * cron schedules with their next fire times. Editors add, rotate and delete; operators
 * pause and resume schedules.
 */
import { useState } from 'preact/hooks';
import { ApiError, gql } from '../api.js';
import {
  TriggersCreateScheduleDocument,
  TriggersCreateWebhookDocument,
  TriggersDeleteScheduleDocument,
  TriggersDeleteWebhookDocument,
  TriggersOfWorkflowDocument,
  TriggersPauseScheduleDocument,
  TriggersResumeScheduleDocument,
  TriggersRotateWebhookSecretDocument,
  TriggersUpdateWebhookDocument,
  type ScheduleCatchUp,
  type TriggersOfWorkflowQuery,
} from '../gql/graphql.js';
import { Empty, ErrorBox, Field, Guard, Section, Table, Time, useAction, useLoad } from '../components.js';
import { can } from '../session.js';
import { fieldProblem } from './workflows.js';

type TriggersOfWorkflow = NonNullable<TriggersOfWorkflowQuery['workflow']>;
type WebhookTrigger = TriggersOfWorkflow['webhookTriggers'][number];
type Schedule = TriggersOfWorkflow['schedules'][number];

const CATCH_UPS = ['SKIP', 'BACKFILL'] as const satisfies readonly ScheduleCatchUp[];

/** The catch-up rule a select's value names; the select offers no other. */
const catchUpOf = (value: string): ScheduleCatchUp | null => CATCH_UPS.find((c) => c === value) ?? null;

/** A schedule's lastError (JSON, { slot, code, message, at }) as the code and message shown, or null when it has none. */
function scheduleError(value: unknown): { code: string; message: string } | null {
  if (typeof value !== 'object' || value === null) return null;
  const code: unknown = 'code' in value ? value.code : undefined;
  const message: unknown = 'message' in value ? value.message : undefined;
  return { code: typeof code === 'string' ? code : '', message: typeof message === 'string' ? message : '' };
}

const versionText = (v: number | null) => (v === null ? 'latest' : `v${v}`);
const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** The secret of a trigger just created or rotated: in this page's memory only, until dismissed. */
function SecretOnce({ shown, dismiss }: { shown: { name: string; url: string; secret: string }; dismiss: () => void }) {
  return (
    <div class="notice secret-once" role="status" aria-label="New signing secret">
      <p>
        <strong>Signing secret for “{shown.name}”, shown once.</strong> Give it to the sender now; the appliance keeps only a sealed copy
        and cannot show it again.
      </p>
      <dl class="facts">
        <dt>URL</dt>
        <dd>
          <code>{shown.url}</code>
        </dd>
        <dt>Secret</dt>
        <dd>
          <code class="secret">{shown.secret}</code>
        </dd>
      </dl>
      <button type="button" onClick={dismiss}>
        I have stored it
      </button>
    </div>
  );
}

function WebhookForm({
  workflowId,
  created,
}: {
  workflowId: string;
  created: (shown: { name: string; url: string; secret: string }) => void;
}) {
  const [name, setName] = useState('');
  const [sources, setSources] = useState('');
  const [header, setHeader] = useState('');
  const add = useAction(async () => {
    const allowedSources = sources.split(/[\s,]+/).filter(Boolean);
    const made = (
      await gql(TriggersCreateWebhookDocument, {
        i: {
          workflowId,
          name: name.trim(),
          ...(allowedSources.length ? { allowedSources } : {}),
          ...(header.trim() ? { deliveryIdHeader: header.trim() } : {}),
        },
      })
    ).createWebhookTrigger;
    created({ name: name.trim(), url: made.trigger.url, secret: made.secret });
    setName('');
    setSources('');
    setHeader('');
  });
  const problem = (path: string) => fieldProblem(add.error, path);
  return (
    <form
      aria-label="Add webhook trigger"
      class="trigger-form"
      onSubmit={(e) => {
        e.preventDefault();
        void add.run();
      }}
      noValidate
    >
      <Field label="Name" error={problem('input.name')}>
        {(p) => (
          <input
            {...p}
            value={name}
            maxLength={100}
            onInput={(e) => {
              setName(e.currentTarget.value);
              add.clear();
            }}
          />
        )}
      </Field>
      <Field
        label="Allowed sources (optional)"
        hint="IPs or CIDR ranges, separated by commas. Empty: any source."
        error={problem('input.allowedSources[0]')}
      >
        {(p) => <input {...p} value={sources} placeholder="10.20.0.0/16" onInput={(e) => setSources(e.currentTarget.value)} />}
      </Field>
      <Field label="Delivery id header (optional)" hint="Default x-delivery-id. A repeated id returns the run it started.">
        {(p) => <input {...p} value={header} placeholder="x-delivery-id" onInput={(e) => setHeader(e.currentTarget.value)} />}
      </Field>
      <ErrorBox error={add.error} title="The trigger was not created" />
      <div class="row">
        <button type="submit" class="primary" disabled={add.pending}>
          {add.pending ? 'Adding…' : 'Add webhook trigger'}
        </button>
      </div>
    </form>
  );
}

function ScheduleForm({ workflowId, created }: { workflowId: string; created: () => void }) {
  const [name, setName] = useState('');
  const [cron, setCron] = useState('');
  const [zone, setZone] = useState(localZone());
  const [catchUp, setCatchUp] = useState<ScheduleCatchUp>('SKIP');
  const add = useAction(async () => {
    await gql(TriggersCreateScheduleDocument, { i: { workflowId, name: name.trim(), cron: cron.trim(), timeZone: zone.trim(), catchUp } });
    setName('');
    setCron('');
    created();
  });
  const problem = (path: string) => fieldProblem(add.error, path);
  return (
    <form
      aria-label="Add schedule"
      class="trigger-form"
      onSubmit={(e) => {
        e.preventDefault();
        void add.run();
      }}
      noValidate
    >
      <Field label="Name" error={problem('input.name')}>
        {(p) => (
          <input
            {...p}
            value={name}
            maxLength={100}
            onInput={(e) => {
              setName(e.currentTarget.value);
              add.clear();
            }}
          />
        )}
      </Field>
      <Field label="Cron" hint="Five fields: minute hour day-of-month month day-of-week, e.g. 30 2 * * 1-5." error={problem('input.cron')}>
        {(p) => (
          <input
            {...p}
            value={cron}
            placeholder="30 2 * * 1-5"
            class="mono"
            onInput={(e) => {
              setCron(e.currentTarget.value);
              add.clear();
            }}
          />
        )}
      </Field>
      <Field label="Time zone" hint="An IANA zone such as Europe/Berlin or UTC." error={problem('input.timeZone')}>
        {(p) => (
          <input
            {...p}
            value={zone}
            onInput={(e) => {
              setZone(e.currentTarget.value);
              add.clear();
            }}
          />
        )}
      </Field>
      <Field label="After downtime">
        {(p) => (
          <select {...p} value={catchUp} onChange={(e) => setCatchUp(catchUpOf(e.currentTarget.value) ?? catchUp)}>
            <option value="SKIP">Skip missed slots</option>
            <option value="BACKFILL">Backfill the latest 10 missed slots</option>
          </select>
        )}
      </Field>
      <ErrorBox error={add.error} title="The schedule was not created" />
      <div class="row">
        <button type="submit" class="primary" disabled={add.pending}>
          {add.pending ? 'Adding…' : 'Add schedule'}
        </button>
      </div>
    </form>
  );
}

export function Triggers({ workflowId }: { workflowId: string }) {
  const loaded = useLoad(
    () =>
      gql(TriggersOfWorkflowDocument, { w: workflowId }).then((d) => {
        // The API answers an unknown workflow with a NOT_FOUND error, which gql throws; null without one is the same answer.
        if (!d.workflow) throw new ApiError('The workflow was not found.', 'NOT_FOUND');
        return d.workflow;
      }),
    [workflowId],
  );
  const [secret, setSecret] = useState<{ name: string; url: string; secret: string } | null>(null);
  /** One change of a trigger or schedule (a generated mutation with its variables); the list reloads after it. */
  const act = useAction(async (change: () => Promise<unknown>) => {
    await change();
    loaded.reload();
  });
  const rotate = useAction(async (hook: WebhookTrigger) => {
    const made = (
      await gql(TriggersRotateWebhookSecretDocument, {
        i: { id: hook.id, previousSecretValidSeconds: 3600 },
      })
    ).rotateWebhookTriggerSecret;
    setSecret({ name: hook.name, url: made.trigger.url, secret: made.secret });
    loaded.reload();
  });
  const write = can('workflow:write');
  const operate = write || can('run:operate');
  return (
    <div class="triggers">
      <Section title="Webhook triggers">
        {secret ? <SecretOnce shown={secret} dismiss={() => setSecret(null)} /> : null}
        <ErrorBox error={act.error ?? rotate.error} title="The change was refused" />
        <Guard loaded={loaded} what="the triggers">
          {(w) =>
            w.webhookTriggers.length === 0 ? (
              <Empty>No webhook triggers: runs of this workflow start only through the API or a schedule.</Empty>
            ) : (
              <Table
                caption="Webhook triggers"
                rows={w.webhookTriggers}
                rowKey={(h) => h.id}
                columns={[
                  {
                    label: 'Name',
                    cell: (h) => (
                      <span>
                        {h.name}
                        {h.enabled ? null : <span class="status status-cancelled"> disabled</span>}
                      </span>
                    ),
                  },
                  { label: 'URL', cell: (h) => <code class="url">{h.url}</code> },
                  { label: 'Version', cell: (h) => versionText(h.version) },
                  { label: 'Sources', cell: (h) => (h.allowedSources.length ? h.allowedSources.join(', ') : 'any') },
                  ...(write
                    ? [
                        {
                          label: 'Actions',
                          cell: (h: WebhookTrigger) => (
                            <span class="row">
                              <button
                                type="button"
                                onClick={() =>
                                  void act.run(() => gql(TriggersUpdateWebhookDocument, { i: { id: h.id, enabled: !h.enabled } }))
                                }
                              >
                                {h.enabled ? `Disable ${h.name}` : `Enable ${h.name}`}
                              </button>
                              <button
                                type="button"
                                onClick={() => void rotate.run(h)}
                                title="A new secret; the old one keeps working for an hour"
                              >{`Rotate secret of ${h.name}`}</button>
                              <button
                                type="button"
                                class="danger"
                                onClick={() => void act.run(() => gql(TriggersDeleteWebhookDocument, { id: h.id }))}
                              >{`Delete ${h.name}`}</button>
                            </span>
                          ),
                        },
                      ]
                    : []),
                ]}
              />
            )
          }
        </Guard>
        {write ? (
          <WebhookForm
            workflowId={workflowId}
            created={(shown) => {
              setSecret(shown);
              loaded.reload();
            }}
          />
        ) : null}
      </Section>
      <Section title="Schedules">
        <Guard loaded={loaded} what="the schedules">
          {(w) =>
            w.schedules.length === 0 ? (
              <Empty>No schedules.</Empty>
            ) : (
              <Table
                caption="Schedules"
                rows={w.schedules}
                rowKey={(s) => s.id}
                columns={[
                  {
                    label: 'Name',
                    cell: (s) => (
                      <span>
                        {s.name}
                        {s.paused ? <span class="status status-waiting"> paused</span> : null}
                      </span>
                    ),
                  },
                  {
                    label: 'When',
                    cell: (s) => (
                      <span>
                        <code>{s.cron}</code> <span class="muted">{s.timeZone}</span>
                      </span>
                    ),
                  },
                  { label: 'Version', cell: (s) => versionText(s.version) },
                  {
                    label: 'Next (your time)',
                    cell: (s) =>
                      s.nextFireTimes.length ? (
                        <ul class="plain">
                          {s.nextFireTimes.map((at) => (
                            <li key={at}>
                              <Time value={at} />
                            </li>
                          ))}
                        </ul>
                      ) : (
                        <span class="muted">paused</span>
                      ),
                  },
                  {
                    label: 'Last',
                    cell: (s) => {
                      const lastError = scheduleError(s.lastError);
                      return (
                        <span>
                          {s.lastFiredSlot ? <Time value={s.lastFiredSlot} /> : <span class="muted">never</span>}
                          {s.skippedSlots > 0 ? <span class="muted"> · {s.skippedSlots} skipped</span> : null}
                          {lastError ? (
                            <span class="failure">
                              {' '}
                              · <code>{lastError.code}</code> {lastError.message}
                            </span>
                          ) : null}
                        </span>
                      );
                    },
                  },
                  ...(operate
                    ? [
                        {
                          label: 'Actions',
                          cell: (s: Schedule) => (
                            <span class="row">
                              <button
                                type="button"
                                onClick={() =>
                                  void act.run(() =>
                                    s.paused
                                      ? gql(TriggersResumeScheduleDocument, { id: s.id })
                                      : gql(TriggersPauseScheduleDocument, { id: s.id }),
                                  )
                                }
                              >
                                {s.paused ? `Resume ${s.name}` : `Pause ${s.name}`}
                              </button>
                              {write ? (
                                <button
                                  type="button"
                                  class="danger"
                                  onClick={() => void act.run(() => gql(TriggersDeleteScheduleDocument, { id: s.id }))}
                                >{`Delete ${s.name}`}</button>
                              ) : null}
                            </span>
                          ),
                        },
                      ]
                    : []),
                ]}
              />
            )
          }
        </Guard>
        {write ? <ScheduleForm workflowId={workflowId} created={loaded.reload} /> : null}
      </Section>
    </div>
  );
}
