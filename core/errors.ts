/**
 * Typed errors with the stable codes of the API contract. Every error that can reach a
 * client is an AppError; anything else is reported as INTERNAL without its message.
 */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'QUOTA_EXCEEDED'
  | 'RATE_LIMITED'
  | 'OVERLOADED'
  | 'CONFLICT'
  | 'INTERNAL';

export interface AppErrorOptions {
  /** Where in the input the problem is, e.g. `steps[2].needs[0]`. */
  path?: string;
  /** Extra, client-safe facts (quota name and limit, retryAfterSeconds, ...). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.path = options.path;
    this.details = options.details;
  }
}

export const notFound = (what: string, id: string): AppError => new AppError('NOT_FOUND', `${what} ${JSON.stringify(id)} not found`);

export const badInput = (path: string, problem: string, details?: Record<string, unknown>): AppError =>
  new AppError('BAD_USER_INPUT', `${path}: ${problem}`, { path, ...(details ? { details } : {}) });

/** One validation problem; many of them make one BAD_USER_INPUT error. */
export interface ValidationIssue {
  path: string;
  message: string;
}

export const invalid = (issues: ValidationIssue[], subject: string): AppError => {
  const first = issues[0];
  const head = first ? `${first.path}: ${first.message}` : `${subject} is invalid`;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return new AppError('BAD_USER_INPUT', `invalid ${subject}: ${head}${more}`, {
    ...(first ? { path: first.path } : {}),
    details: { issues },
  });
};
