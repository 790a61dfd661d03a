/** The actions the engine runs itself, without an executor. */
export const CORE_ACTIONS = {
  noop: 'core/noop@1',
  delay: 'core/delay@1',
  approval: 'core/approval@1',
} as const;

export const ENGINE_ACTIONS: ReadonlySet<string> = new Set(Object.values(CORE_ACTIONS));

/** Longest durable delay: one year. */
export const MAX_DELAY_MS = 365 * 24 * 3600 * 1000;
