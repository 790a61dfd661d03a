/** A benchmark scenario's result, or why it could not be measured. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };
