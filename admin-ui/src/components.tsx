/** The UI's shared pieces: data loading, states (loading, empty, error), tables, fields, values. */
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from './api.js';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Loads on mount and whenever `deps` change; a newer load wins over a slower older one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => {
        if (mine === generation.current) setState({ data, error: null, loading: false });
      },
      (error: unknown) => {
        if (mine === generation.current) setState((s) => ({ data: s.data, error, loading: false }));
      },
    );
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

/** A mutation's pending and error state; `run` resolves with the result or undefined on failure. */
export function useAction<A extends unknown[], R>(
  action: (...args: A) => Promise<R>,
): { run: (...args: A) => Promise<R | undefined>; pending: boolean; error: unknown; clear: () => void } {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (...args: A) => {
    setPending(true);
    setError(null);
    try {
      return await action(...args);
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setPending(false);
    }
  };
  return { run, pending, error, clear: () => setError(null) };
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="state" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

export function ErrorBox({ error, title = 'Something went wrong' }: { error: unknown; title?: string }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      <strong>{title}.</strong> {describeError(error)}
    </div>
  );
}

/** Loading, error and empty states around content that needs data. */
export function Guard<T>({
  loaded,
  what,
  empty,
  children,
}: {
  loaded: Loaded<T>;
  what: string;
  empty?: (data: T) => string | null;
  children: (data: T) => ComponentChildren;
}) {
  if (loaded.data === undefined)
    return loaded.error ? <ErrorBox error={loaded.error} title={`Could not load ${what}`} /> : <Loading what={what} />;
  const emptyText = empty?.(loaded.data);
  return (
    <>
      {loaded.error ? <ErrorBox error={loaded.error} title={`Could not refresh ${what}`} /> : null}
      {emptyText ? <Empty>{emptyText}</Empty> : children(loaded.data)}
    </>
  );
}

export function Page({ title, actions, children }: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · Switchyard`;
  }, [title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title">{title}</h1>
        {actions ? <div class="actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const id = `section-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section class="section" aria-labelledby={id}>
      <header class="section-header">
        <h2 id={id}>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export interface Column<T> {
  label: string;
  cell: (row: T) => ComponentChildren;
  class?: string;
}

export function Table<T>({
  caption,
  columns,
  rows,
  rowKey,
}: {
  caption: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
}) {
  return (
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" class={c.class}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)}>
              {columns.map((c) => (
                <td class={c.class}>{c.cell(row)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

let fieldIds = 0;

/** A labelled control: the label is tied to the input, and a hint or error to its description. */
export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: string;
  error?: string | null;
  children: (props: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => JSX.Element;
}) {
  const id = useRef(`field-${++fieldIds}`).current;
  const described = hint || error ? `${id}-note` : undefined;
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={id}>{label}</label>
      {children({ id, ...(described ? { 'aria-describedby': described } : {}), ...(error ? { 'aria-invalid': true } : {}) })}
      {error ? (
        <p id={described} class="field-error">
          {error}
        </p>
      ) : hint ? (
        <p id={described} class="hint">
          {hint}
        </p>
      ) : null}
    </div>
  );
}

export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span class="muted">—</span>;
  const date = new Date(value);
  return (
    <time dateTime={date.toISOString()} title={date.toISOString()}>
      {date.toLocaleString()}
    </time>
  );
}

export function Duration({ from, to }: { from: string | null | undefined; to: string | null | undefined }) {
  if (!from) return <span class="muted">—</span>;
  const ms = (to ? new Date(to).getTime() : Date.now()) - new Date(from).getTime();
  return (
    <span>
      {ms < 1000
        ? `${ms} ms`
        : ms < 60_000
          ? `${(ms / 1000).toFixed(1)} s`
          : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`}
    </span>
  );
}

export function Status({ value }: { value: string }) {
  return <span class={`status status-${value.toLowerCase()}`}>{value.replace('_', ' ')}</span>;
}

export function Json({ value, label }: { value: unknown; label: string }) {
  if (value === undefined || value === null) return <span class="muted">none</span>;
  return (
    <pre class="json" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** Parses a JSON text field; the error names what is wrong for the field's message. */
export function parseJson(text: string, what: string): { value?: unknown; error?: string } {
  if (text.trim() === '') return { value: undefined };
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: `${what} is not valid JSON: ${(error as Error).message}` };
  }
}

/**
 * An id shortened for lists and headings: its last 12 characters. Ids are UUIDv7, whose
 * leading characters are a timestamp that things created together share.
 */
export const short = (id: string): string => (id.length > 12 ? `…${id.slice(-12)}` : id);
