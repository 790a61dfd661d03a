import type { MessagePort } from 'node:worker_threads';
import { createEgressSession } from '../egress/index.js';
import {
  EgressError,
  type EgressErrorCode,
  type EgressGuard,
  type EgressSession,
  type GuardAdmission,
  type PluginHttpRequest,
} from '../egress/types.js';
import { isEgressCode, messageOf } from './errors.js';
import type { GuardCall, GuardReply, PortFromWorker, PortToWorker } from './protocol.js';
import type { HttpCallRecord, SandboxInvocation, SandboxLogLevel } from './types.js';

/** Caps shared with the guest bootstrap (`$2`); the host enforces them again. */
export const GUEST_CAPS = {
  maxLines: 100,
  maxLineChars: 2000,
  maxFieldsChars: 8192,
  maxMessage: 1000,
  maxBodyChars: 10 * 1024 * 1024,
};

/** HTTP calls recorded per invocation for tracing; later ones still run, unrecorded. */
export const MAX_RECORDED_HTTP_CALLS = 64;

const LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);

/**
 * The host side of `log` and `http` for one invocation. The isolate calls these through
 * Callbacks with strings only; every value is checked here as if it came from an attacker.
 */
export class HostBridge {
  #lines = 0;
  #session: EgressSession | undefined;
  /** Made on the first request: most invocations make none, and aborting one costs a DOMException. */
  #abort: AbortController | undefined;
  #closed = false;
  /** Guard calls waiting for the engine's reply, by sequence number. */
  readonly #guardCalls = new Map<number, { resolve: (reply: GuardReply) => void; reject: (error: Error) => void }>();
  #guardSeq = 0;
  readonly #httpCalls: HttpCallRecord[] = [];
  /**
   * Whether the plugin asked the host for anything that answers asynchronously. Such a reply can
   * wake the isolate after the invocation ended (its continuation may already be queued when the
   * result comes back), so an isolate that made one is never reused.
   */
  requested = false;

  constructor(
    private readonly invocation: SandboxInvocation,
    private readonly port: MessagePort,
  ) {
    if (invocation.network.guardedHosts?.length) {
      port.on('message', (msg: PortToWorker) => {
        if (msg?.type !== 'guard') return;
        const call = this.#guardCalls.get(msg.seq);
        this.#guardCalls.delete(msg.seq);
        call?.resolve(msg.reply);
      });
    }
  }

  log(level: unknown, message: unknown, fieldsJson: unknown): void {
    this.#lines += 1;
    if (this.#lines > GUEST_CAPS.maxLines + 1) return;
    if (this.#lines === GUEST_CAPS.maxLines + 1) {
      this.#post('warn', `log limit of ${GUEST_CAPS.maxLines} lines reached; further lines are dropped`);
      return;
    }
    const lvl = typeof level === 'string' && LEVELS.has(level) ? (level as SandboxLogLevel) : 'info';
    const text = typeof message === 'string' ? message.slice(0, GUEST_CAPS.maxLineChars) : '';
    let fields: Record<string, unknown> | undefined;
    if (typeof fieldsJson === 'string' && fieldsJson.length <= GUEST_CAPS.maxFieldsChars) {
      try {
        const parsed: unknown = JSON.parse(fieldsJson);
        fields =
          parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { value: parsed };
      } catch {
        fields = undefined;
      }
    }
    this.#post(lvl, text, fields);
  }

  /** Never throws: the guest learns of failures from the `{ ok: false, code }` envelope. */
  async http(requestJson: unknown): Promise<string> {
    let call: HttpCallRecord | undefined;
    try {
      const request = parseRequest(requestJson);
      this.#session ??= createEgressSession(
        this.invocation.network,
        this.invocation.credentials,
        this.invocation.network.guardedHosts?.length ? { guard: this.#guard() } : {},
      );
      this.#abort ??= new AbortController();
      if (this.#closed) this.#abort.abort();
      this.requested = true;
      call = this.#recordCall(request);
      const response = await this.#session.request(request, this.#abort.signal);
      if (call) call.status = response.status;
      return JSON.stringify({ ok: true, response: { status: response.status, headers: response.headers, body: response.body } });
    } catch (err) {
      if (call) call.code = err instanceof EgressError ? err.code : 'EGRESS_FAILED';
      if (err instanceof EgressError && isEgressCode(err.code)) {
        return JSON.stringify({
          ok: false,
          code: err.code,
          message: messageOf(err),
          ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
        });
      }
      // Anything else is a fault of ours: say little, so host details stay on the host.
      return JSON.stringify({ ok: false, code: 'EGRESS_FAILED' satisfies EgressErrorCode, message: 'the request failed' });
    } finally {
      if (call) call.durationMs = performance.timeOrigin + performance.now() - call.startedAt;
    }
  }

  /** The HTTP calls made so far (a call still in flight has no status, code or duration yet). */
  httpCalls(): HttpCallRecord[] {
    return this.#httpCalls.map((call) => ({ ...call }));
  }

  #recordCall(request: PluginHttpRequest): HttpCallRecord | undefined {
    if (this.#httpCalls.length >= MAX_RECORDED_HTTP_CALLS) return undefined;
    let url: string;
    try {
      const parsed = new URL(request.url);
      url = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
    } catch {
      url = 'invalid URL';
    }
    const call: HttpCallRecord = {
      method: request.method.toUpperCase().slice(0, 16),
      url: url.slice(0, 2048),
      startedAt: performance.timeOrigin + performance.now(),
      durationMs: 0,
    };
    this.#httpCalls.push(call);
    return call;
  }

  /** Requests that carried each credential handle in this invocation. */
  credentialUses(): Record<string, number> {
    return this.#session ? { ...this.#session.credentialUses } : {};
  }

  /** Stops requests still in flight when the invocation ends, however it ends. */
  close(): void {
    this.#closed = true;
    this.#abort?.abort();
    for (const call of this.#guardCalls.values()) call.reject(new Error('the invocation ended'));
    this.#guardCalls.clear();
  }

  /** The integration guard, asked over the task's port (the engine holds its state). */
  #guard(): EgressGuard {
    return {
      admit: async (host) => (await this.#askGuard({ kind: 'admit', host })) as GuardAdmission,
      report: async (permit, result) => {
        await this.#askGuard({ kind: 'report', permit, result });
      },
    };
  }

  #askGuard(call: GuardCall): Promise<GuardReply> {
    if (this.#closed) return Promise.reject(new Error('the invocation ended'));
    const seq = ++this.#guardSeq;
    return new Promise<GuardReply>((resolve, reject) => {
      this.#guardCalls.set(seq, { resolve, reject });
      this.port.postMessage({ type: 'guard', seq, call } satisfies PortFromWorker);
    });
  }

  #post(level: SandboxLogLevel, message: string, fields?: Record<string, unknown>): void {
    const msg: PortFromWorker = { type: 'log', line: fields === undefined ? { level, message } : { level, message, fields } };
    this.port.postMessage(msg);
  }
}

function parseRequest(json: unknown): PluginHttpRequest {
  if (typeof json !== 'string') throw new EgressError('EGRESS_DENIED', 'malformed request');
  const raw: unknown = JSON.parse(json);
  if (raw === null || typeof raw !== 'object') throw new EgressError('EGRESS_DENIED', 'malformed request');
  const r = raw as Record<string, unknown>;
  if (typeof r.method !== 'string' || typeof r.url !== 'string') throw new EgressError('EGRESS_DENIED', 'malformed request');
  const request: PluginHttpRequest = { method: r.method, url: r.url };
  if (r.headers !== undefined) {
    if (r.headers === null || typeof r.headers !== 'object' || Array.isArray(r.headers))
      throw new EgressError('EGRESS_DENIED', 'malformed headers');
    const entries = Object.entries(r.headers);
    if (entries.some(([, value]) => typeof value !== 'string')) throw new EgressError('EGRESS_DENIED', 'malformed headers');
    // fromEntries defines own properties, so a `__proto__` header cannot reach a prototype.
    request.headers = Object.fromEntries(entries) as Record<string, string>;
  }
  if (r.body !== undefined) {
    if (typeof r.body !== 'string' || r.body.length > GUEST_CAPS.maxBodyChars)
      throw new EgressError('EGRESS_LIMIT', 'request body is too large');
    request.body = r.body;
  }
  if (r.credential !== undefined) {
    if (typeof r.credential !== 'string') throw new EgressError('EGRESS_DENIED', 'malformed credential handle');
    request.credential = r.credential;
  }
  return request;
}
