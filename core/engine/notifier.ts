import pg from 'pg';
import type { Logger } from '../logger.js';

type Listener = (payload: string) => void;

/**
 * One dedicated connection LISTENing on the engine's channels, fanned out in-process.
 * NOTIFY is delivered to every process, so a subscriber sees changes made by any
 * server; payloads only point at rows, which stay the source of truth.
 */
export class Notifier {
  private client: pg.Client | null = null;
  private readonly listeners = new Map<string, Set<Listener>>();
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly connectionString: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, application_name: 'switchyard-notifier' });
    client.on('notification', (msg) => {
      for (const listener of this.listeners.get(msg.channel) ?? []) {
        try {
          listener(msg.payload ?? '');
        } catch (error) {
          this.logger.error({ err: error, channel: msg.channel }, 'notification listener failed');
        }
      }
    });
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'notifier connection lost; reconnecting');
      this.scheduleReconnect();
    });
    await client.connect();
    for (const channel of this.listeners.keys()) await client.query(`LISTEN "${channel}"`);
    this.client = client;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.client = null;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().catch(() => this.scheduleReconnect());
    }, 1000);
  }

  /** Subscribes to a channel; returns the unsubscribe function. */
  async listen(channel: string, listener: Listener): Promise<() => void> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      await this.client?.query(`LISTEN "${channel}"`);
    }
    set.add(listener);
    return () => set!.delete(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}
