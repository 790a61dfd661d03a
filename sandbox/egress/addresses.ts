/**
 * Which resolved addresses a plugin may connect to: everything public, nothing internal
 * unless the administrator's `allowedPrivate` names the host or the address.
 *
 * Node's `BlockList` applies IPv4 rules to IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`)
 * by itself, so the IPv4 ranges below also refuse their mapped forms.
 */
import { BlockList, isIP } from 'node:net';
import { hostMatches, normaliseHost, unbracket, type HostPattern } from './hostPatterns.js';

interface Range {
  description: string;
  list: BlockList;
}

function range(description: string, cidr: string): Range {
  const list = new BlockList();
  const [network, prefix] = cidr.split('/') as [string, string];
  list.addSubnet(network, Number(prefix), isIP(network) === 6 ? 'ipv6' : 'ipv4');
  return { description: `${description} ${cidr}`, list };
}

/** Ordered most specific first, so a message names the narrowest range. */
const REFUSED: readonly Range[] = [
  range('broadcast', '255.255.255.255/32'),
  range('unspecified ("this network")', '0.0.0.0/8'),
  range('private', '10.0.0.0/8'),
  range('carrier-grade NAT', '100.64.0.0/10'),
  range('loopback', '127.0.0.0/8'),
  range('link-local (cloud metadata)', '169.254.0.0/16'),
  range('private', '172.16.0.0/12'),
  range('IETF protocol assignments', '192.0.0.0/24'),
  range('private', '192.168.0.0/16'),
  range('benchmarking', '198.18.0.0/15'),
  range('multicast', '224.0.0.0/4'),
  range('reserved', '240.0.0.0/4'),
  range('unspecified', '::/128'),
  range('loopback', '::1/128'),
  // Deprecated IPv4-compatible addresses (`::127.0.0.1`); nothing public lives there.
  range('IPv4-compatible', '::/96'),
  range('local-use NAT64', '64:ff9b:1::/48'),
  range('discard-only', '100::/64'),
  range('unique-local', 'fc00::/7'),
  range('link-local', 'fe80::/10'),
  range('site-local', 'fec0::/10'),
  range('multicast', 'ff00::/8'),
];

const MAPPED = range('IPv4-mapped', '::ffff:0:0/96').list;
const NAT64 = range('NAT64', '64:ff9b::/96').list;
const SIX_TO_FOUR = range('6to4', '2002::/16').list;

/** The eight 16-bit groups of an IPv6 address (which `isIP` has accepted). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string | undefined): number[] => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  return tail === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function ipv4FromGroups(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/**
 * The IPv4 address a NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address forwards to: a
 * gateway on the way would deliver `64:ff9b::7f00:1` to 127.0.0.1 of its own network.
 */
function embeddedIpv4(address: string): string | undefined {
  if (NAT64.check(address, 'ipv6')) {
    const groups = ipv6Groups(address);
    return ipv4FromGroups(groups[6]!, groups[7]!);
  }
  if (SIX_TO_FOUR.check(address, 'ipv6')) {
    const groups = ipv6Groups(address);
    return ipv4FromGroups(groups[1]!, groups[2]!);
  }
  return undefined;
}

/** Describes the refused range an address falls in, or undefined for a public address. */
export function refusedRange(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  const type = family === 6 ? 'ipv6' : 'ipv4';
  const hit = REFUSED.find((candidate) => candidate.list.check(address, type));
  if (hit) return family === 6 && MAPPED.check(address, 'ipv6') ? `${hit.description} (IPv4-mapped IPv6)` : hit.description;
  const embedded = family === 6 ? embeddedIpv4(address) : undefined;
  const inner = embedded === undefined ? undefined : refusedRange(embedded);
  return inner === undefined ? undefined : `${inner} (embedded in ${NAT64.check(address, 'ipv6') ? 'NAT64' : '6to4'} address)`;
}

/** The administrator's exceptions: host names (exact or `*.` wildcard), addresses and CIDRs. */
export class PrivateAllowance {
  private readonly addresses = new BlockList();
  private readonly hosts: Pick<HostPattern, 'host' | 'wildcard'>[] = [];

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim();
      const slash = entry.indexOf('/');
      if (slash >= 0) {
        const network = unbracket(entry.slice(0, slash));
        const prefixText = entry.slice(slash + 1);
        const family = isIP(network);
        const prefix = Number(prefixText);
        if (family === 0 || !/^\d{1,3}$/.test(prefixText) || prefix > (family === 6 ? 128 : 32)) {
          throw new TypeError(`egress allowedPrivate "${raw}": not a valid CIDR`);
        }
        this.addresses.addSubnet(network, prefix, family === 6 ? 'ipv6' : 'ipv4');
        continue;
      }
      const address = unbracket(entry);
      const family = isIP(address);
      if (family !== 0) {
        this.addresses.addAddress(address, family === 6 ? 'ipv6' : 'ipv4');
        continue;
      }
      const wildcard = entry.startsWith('*.');
      const host = normaliseHost(wildcard ? entry.slice(2) : entry);
      if (host === undefined || host.includes('*')) throw new TypeError(`egress allowedPrivate "${raw}": not a host, address or CIDR`);
      this.hosts.push({ host: host.replace(/\.$/, ''), wildcard });
    }
  }

  allowsHost(host: string): boolean {
    return this.hosts.some((pattern) => hostMatches(pattern, host));
  }

  allowsAddress(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.addresses.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}
