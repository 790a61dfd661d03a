/**
 * Resolves a target host once and checks every address it resolves to. The address
 * returned is the one the connection is pinned to, so a second (rebinding) answer can
 * never be used.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { refusedRange, type PrivateAllowance } from './addresses.js';
import { describeTarget, type Target } from './hostPatterns.js';
import { EgressError } from './types.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all its addresses; injectable for tests. */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

/** The operating system's resolver, as `http.request` itself would use it. */
export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));

/** Rejects when the signal aborts; used to stop waiting on a resolver that hangs. */
export class HopAborted extends Error {
  constructor() {
    super('aborted');
    this.name = 'HopAborted';
  }
}

export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new HopAborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new HopAborted());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export async function resolveChecked(
  target: Target,
  resolver: Resolver,
  allowance: PrivateAllowance,
  signal: AbortSignal,
): Promise<ResolvedAddress> {
  const literal = isIP(target.host);
  let addresses: ResolvedAddress[];
  if (literal !== 0) {
    addresses = [{ address: target.host, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await abortable(resolver(target.host), signal);
    } catch (error) {
      if (error instanceof HopAborted) throw error;
      const code = (error as NodeJS.ErrnoException | undefined)?.code;
      throw new EgressError('EGRESS_FAILED', `could not resolve ${target.host}${code ? ` (${code})` : ''}`);
    }
    if (!Array.isArray(addresses) || addresses.length === 0)
      throw new EgressError('EGRESS_FAILED', `${target.host} resolved to no address`);
  }
  const hostAllowed = allowance.allowsHost(target.host);
  const checked: ResolvedAddress[] = [];
  // Every answer is checked, not only the one used: a mixed answer is a rebinding attempt or a misconfiguration.
  for (const { address } of addresses) {
    const family = isIP(String(address));
    if (family === 0) throw new EgressError('EGRESS_FAILED', `${target.host} resolved to something that is not an IP address`);
    const range = refusedRange(address);
    if (range !== undefined && !hostAllowed && !allowance.allowsAddress(address)) {
      const via = literal !== 0 ? `${describeTarget(target)} is` : `${target.host} resolves to ${address}, which is`;
      throw new EgressError('EGRESS_DENIED', `${via} in the ${range} range; refused because allowedPrivate does not permit it`);
    }
    checked.push({ address, family: family === 6 ? 6 : 4 });
  }
  return checked[0]!;
}
