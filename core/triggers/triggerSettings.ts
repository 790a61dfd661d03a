import { AppError, badInput } from '../errors.js';
import { isUniqueViolation } from '../db/database.js';
import type { RequestContext } from '../auth/roles.js';
import type { WorkflowService } from '../workflows/workflows.js';

/** What webhook triggers and schedules check alike: their name and the version they pin. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/;

export function checkTriggerName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name))
    throw badInput('input.name', 'must be 1 to 100 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit');
  return name;
}

export function checkVersionNumber(version: unknown): number | null {
  if (version !== null && (!Number.isInteger(version) || (version as number) < 1)) {
    throw badInput('input.version', 'must be a positive whole number, or null to follow the latest version');
  }
  return version as number | null;
}

/** A pinned version must exist when the trigger is saved (it can still be the latest later). */
export async function checkPinnedVersion(
  workflows: WorkflowService,
  ctx: RequestContext,
  workflowId: string,
  version: number | null,
): Promise<void> {
  if (version === null) return;
  try {
    await workflows.version(ctx, workflowId, version);
  } catch (error) {
    if (error instanceof AppError && error.code === 'NOT_FOUND') throw badInput('input.version', `the workflow has no version ${version}`);
    throw error;
  }
}

/** A second trigger of one workflow with a name it has (the unique index), as CONFLICT. */
export function nameConflict(error: unknown, what: string): AppError | null {
  return isUniqueViolation(error)
    ? new AppError('CONFLICT', `this workflow already has a ${what} with that name`, { path: 'input.name' })
    : null;
}
