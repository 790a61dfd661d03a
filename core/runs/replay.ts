import type { CompensationStatus, RunEvent, RunStatus, StepFailure, StepStatus } from './model.js';
import type { WorkflowDefinition } from '../workflows/definition.js';

export interface ReplayedCompensation {
  status: CompensationStatus;
  attempts: number;
  output: unknown;
  error: StepFailure | null;
}

export interface ReplayedStep {
  status: StepStatus;
  attempts: number;
  output: unknown;
  error: StepFailure | null;
  compensation: ReplayedCompensation | null;
}

export interface ReplayedRun {
  status: RunStatus;
  output: unknown;
  error: StepFailure | null;
  steps: Record<string, ReplayedStep>;
}

/**
 * Rebuilds a run's state from its event log alone. Given the events in sequence order,
 * the result equals the stored run and step rows (a test holds the engine to it).
 */
export function replayRun(definition: WorkflowDefinition, events: Pick<RunEvent, 'type' | 'stepId' | 'data'>[]): ReplayedRun {
  const run: ReplayedRun = { status: 'QUEUED', output: null, error: null, steps: {} };
  for (const s of definition.steps) run.steps[s.id] = { status: 'PENDING', attempts: 0, output: null, error: null, compensation: null };
  for (const event of events) {
    const step = event.stepId ? run.steps[event.stepId] : undefined;
    // Each event type's data is the JSON the engine wrote for it (runs/transition.ts); each case reads its own fields.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one shape per event type, read by the case that knows it
    const data = event.data as Record<string, any>;
    const undo = step?.compensation;
    switch (event.type) {
      case 'RUN_COMPENSATING':
        run.error = data['error'];
        for (const id of data['steps'] as string[])
          run.steps[id]!.compensation = { status: 'PENDING', attempts: 0, output: null, error: null };
        break;
      case 'COMPENSATION_STARTED':
        Object.assign(undo!, { status: 'RUNNING', attempts: data['attempt'] });
        break;
      case 'COMPENSATION_SUCCEEDED':
        Object.assign(undo!, { status: 'SUCCEEDED', output: data['output'] ?? null, error: null });
        break;
      case 'COMPENSATION_FAILED':
        undo!.error = data['error'];
        undo!.status = data['willRetry'] ? 'PENDING' : 'FAILED';
        break;
      case 'COMPENSATION_RETRY_SCHEDULED':
        break;
      case 'COMPENSATION_RELEASED':
      case 'COMPENSATION_DEFERRED':
        Object.assign(undo!, { status: 'PENDING', attempts: Math.max(0, data['attempt'] - 1) });
        break;
      case 'COMPENSATION_CANCELLED':
        undo!.status = 'CANCELLED';
        break;
      case 'RUN_CREATED':
        break;
      case 'STEP_STARTED':
        step!.status = 'RUNNING';
        step!.attempts = data['attempt'];
        if (run.status === 'QUEUED' || run.status === 'WAITING') run.status = 'RUNNING';
        break;
      case 'STEP_SUCCEEDED':
        Object.assign(step!, { status: 'SUCCEEDED', output: data['output'] ?? null, error: null });
        break;
      case 'STEP_FAILED':
        step!.error = data['error'];
        if (!data['willRetry']) step!.status = 'FAILED';
        break;
      case 'STEP_RETRY_SCHEDULED':
        step!.status = 'PENDING';
        break;
      case 'STEP_WAITING':
        step!.status = 'WAITING';
        break;
      case 'STEP_SKIPPED':
        step!.status = 'SKIPPED';
        break;
      case 'STEP_CANCELLED':
        step!.status = 'CANCELLED';
        break;
      case 'STEP_RELEASED':
      case 'STEP_DEFERRED':
        step!.status = 'PENDING';
        step!.attempts = Math.max(0, data['attempt'] - 1);
        break;
      case 'RUN_RETRIED':
        for (const id of data['steps'] as string[])
          run.steps[id] = { status: 'PENDING', attempts: 0, output: null, error: null, compensation: null };
        Object.assign(run, { status: 'QUEUED', output: null, error: null });
        break;
      case 'RUN_SUCCEEDED':
        Object.assign(run, { status: 'SUCCEEDED', output: data['output'] ?? null });
        break;
      case 'RUN_FAILED':
      case 'RUN_CANCELLED':
      case 'RUN_TIMED_OUT':
        run.status = event.type === 'RUN_FAILED' ? 'FAILED' : event.type === 'RUN_CANCELLED' ? 'CANCELLED' : 'TIMED_OUT';
        run.error = data['error'];
        break;
    }
    if (!['RUN_SUCCEEDED', 'RUN_FAILED', 'RUN_CANCELLED', 'RUN_TIMED_OUT'].includes(event.type) && run.status !== 'QUEUED') {
      run.status = deriveActiveStatus(run, definition);
    }
  }
  return run;
}

/** Mirrors RunTransition.updateActiveStatus: WAITING when every unsettled step waits. */
function deriveActiveStatus(run: ReplayedRun, definition: WorkflowDefinition): RunStatus {
  if (['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(run.status)) return run.status;
  const satisfied = (id: string) => {
    const s = run.steps[id]!;
    return (
      s.status === 'SUCCEEDED' ||
      s.status === 'SKIPPED' ||
      (s.status === 'FAILED' && definition.steps.find((d) => d.id === id)?.onError === 'continue')
    );
  };
  // A pending step whose needs are satisfied is queued, hence runnable.
  const runnable = definition.steps.some((d) => {
    const s = run.steps[d.id]!;
    return s.status === 'RUNNING' || (s.status === 'PENDING' && (d.needs ?? []).every(satisfied));
  });
  if (!runnable && Object.values(run.steps).some((s) => s.status === 'WAITING')) return 'WAITING';
  return run.status === 'WAITING' ? 'RUNNING' : run.status;
}
