/**
 * The egress layer against real HTTP, HTTPS and CONNECT-proxy servers on loopback: the host
 * allow list, refused address ranges (and URL normalisation of IP literals), DNS pinning,
 * redirects, caps, timeouts, credential placement and secrecy, header rules, extra CAs and
 * proxies. Host names are resolved by an injected resolver that counts its calls.
 */
import test, { type ExecutionContext } from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import forge from 'node-forge';
import {
  createEgressSession,
  EgressError,
  MAX_REDIRECTS,
  type CredentialGrant,
  type EgressErrorCode,
  type EgressPolicy,
  type EgressSession,
  type PluginHttpRequest,
  type ResolvedAddress,
} from '../../sandbox/egress/index.js';
import { HostAllowList, NoProxyList } from '../../sandbox/egress/hostPatterns.js';

// ---------------------------------------------------------------------------------------
// Servers

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  localAddress: string;
}

interface Origin {
  port: number;
  seen: Seen[];
  /** Responses of `/endless` whose connection has closed. */
  endlessClosed: number;
  close(): Promise<void>;
}

function readAll(stream: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

/** One handler for every test origin; `name` tells which server answered. */
function originHandler(origin: Origin, name: string) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readAll(req);
    origin.seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body,
      localAddress: req.socket.localAddress ?? '',
    });
    const url = new URL(req.url ?? '/', 'http://origin');
    const query = url.searchParams;
    switch (url.pathname) {
      case '/echo':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, body }));
        return;
      case '/status':
        res.writeHead(Number(query.get('code')), { 'content-type': 'text/plain' });
        res.end(`status ${query.get('code')}`);
        return;
      case '/bytes': {
        const size = Number(query.get('n'));
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(size) });
        res.end('a'.repeat(size));
        return;
      }
      case '/chunked': {
        // No content-length: the cap must be enforced while streaming.
        const size = Number(query.get('n'));
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let sent = 0; sent < size; sent += 7) res.write('b'.repeat(Math.min(7, size - sent)));
        res.end();
        return;
      }
      case '/endless': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(16 * 1024, 0x63);
        res.on('close', () => {
          origin.endlessClosed += 1;
        });
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return;
      }
      case '/redirect':
        res.writeHead(Number(query.get('status') ?? 302), { location: query.get('to') ?? '/echo' });
        res.end();
        return;
      case '/loop':
        res.writeHead(302, { location: `/loop?n=${Number(query.get('n') ?? 0) + 1}` });
        res.end();
        return;
      case '/hang':
        return;
      case '/trickle': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const timer = setInterval(() => res.write('x'), 50);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case '/cookies':
        res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2']);
        res.setHeader('X-Custom', 'Value');
        res.end('ok');
        return;
      default:
        res.writeHead(404).end('not found');
    }
  };
}

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

async function startOrigin(
  options: { host?: string; port?: number; name?: string; tls?: { key: string; cert: string } } = {},
): Promise<Origin & { server: http.Server }> {
  const origin: Origin = { port: 0, seen: [], endlessClosed: 0, close: async () => undefined };
  const handler = originHandler(origin, options.name ?? 'origin');
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  origin.port = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  origin.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return Object.assign(origin, { server });
}

// ---------------------------------------------------------------------------------------
// Policies, resolvers, assertions

let origin: Origin;
let base: string;

test.before(async () => {
  origin = await startOrigin();
  base = `http://127.0.0.1:${origin.port}`;
});

test.after.always(async () => {
  await origin?.close();
});

/** A server of the test's own, for tests that count what reached it (tests run concurrently). */
async function ownOrigin(t: ExecutionContext): Promise<Origin & { base: string }> {
  const own = await startOrigin();
  t.teardown(() => own.close());
  return Object.assign(own, { base: `http://127.0.0.1:${own.port}` });
}

function policy(overrides: Partial<EgressPolicy> = {}, port = origin.port): EgressPolicy {
  return {
    allowedHosts: [`127.0.0.1:${port}`],
    allowedPrivate: [],
    maxRequests: 100,
    maxResponseBytes: 1024 * 1024,
    requestTimeoutMs: 5000,
    ...overrides,
  };
}

/** The test origin reachable: loopback permitted for 127.0.0.1 only. */
function loopbackPolicy(overrides: Partial<EgressPolicy> = {}, port = origin.port): EgressPolicy {
  return policy({ allowedPrivate: ['127.0.0.1/32'], ...overrides }, port);
}

interface CountingResolver {
  (host: string): Promise<ResolvedAddress[]>;
  calls: string[];
}

/** Resolves names from a table, counting calls; a value may be a function of the call number. */
function resolverOf(table: Record<string, string[] | ((call: number) => string[])>): CountingResolver {
  const calls: string[] = [];
  const resolve = async (host: string): Promise<ResolvedAddress[]> => {
    calls.push(host);
    const entry = table[host];
    if (entry === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    const addresses = typeof entry === 'function' ? entry(calls.filter((name) => name === host).length) : entry;
    return addresses.map((address) => ({ address, family: net.isIP(address) === 6 ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

async function refused(t: ExecutionContext, promise: Promise<unknown>, code: EgressErrorCode, ...mentions: string[]): Promise<EgressError> {
  const error = await t.throwsAsync(promise, { instanceOf: EgressError });
  t.is(error?.code, code, error?.message);
  for (const mention of mentions) t.true(error?.message.includes(mention), `"${error?.message}" should mention "${mention}"`);
  return error as EgressError;
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function get(session: EgressSession, url: string, extra: Partial<PluginHttpRequest> = {}): ReturnType<EgressSession['request']> {
  return session.request({ method: 'GET', url, ...extra });
}

function echoed(body: string): { name: string; method: string; url: string; headers: Record<string, string>; body: string } {
  return JSON.parse(body);
}

// ---------------------------------------------------------------------------------------
// Allowed requests and the response shape

test('an allowed request reaches the server and returns status, lower-case headers and text', async (t) => {
  const session = createEgressSession(loopbackPolicy(), []);
  const response = await session.request({
    method: 'post',
    url: `${base}/echo?x=1#fragment`,
    headers: { 'Content-Type': 'application/json', 'X-Trace': 'abc' },
    body: '{"é":1}',
  });
  t.is(response.status, 200);
  t.is(response.headers['content-type'], 'application/json');
  const echo = echoed(response.body);
  t.is(echo.method, 'POST');
  t.is(echo.url, '/echo?x=1');
  t.is(echo.body, '{"é":1}');
  t.is(echo.headers['content-length'], String(Buffer.byteLength('{"é":1}')));
  t.is(echo.headers['x-trace'], 'abc');
  t.is(echo.headers.host, `127.0.0.1:${origin.port}`);
  t.is(echo.headers['accept-encoding'], 'identity');
  t.is(session.requestCount, 1);
});

test('non-2xx statuses are responses, not errors; set-cookie is joined', async (t) => {
  const session = createEgressSession(loopbackPolicy(), []);
  const missing = await get(session, `${base}/status?code=503`);
  t.is(missing.status, 503);
  t.is(missing.body, 'status 503');
  const cookies = await get(session, `${base}/cookies`);
  t.is(cookies.headers['set-cookie'], 'a=1; Path=/, b=2');
  t.is(cookies.headers['x-custom'], 'Value');
  t.is(cookies.body, 'ok');
  const head = await session.request({ method: 'HEAD', url: `${base}/echo` });
  t.is(head.status, 200);
  t.is(head.body, '');
});

test('WHATWG URL normalises IP literals, so 0x7f.1, 2130706433 and 127.1 match an allow list entry for 127.0.0.1', async (t) => {
  const session = createEgressSession(loopbackPolicy(), []);
  for (const host of ['0x7f.1', '2130706433', '127.1', '0177.0.0.1']) {
    const response = await get(session, `http://${host}:${origin.port}/echo`);
    t.is(response.status, 200, host);
    t.is(echoed(response.body).headers.host, `127.0.0.1:${origin.port}`);
  }
});

// ---------------------------------------------------------------------------------------
// Refused addresses

test('loopback, private, link-local and mapped addresses are refused without allowedPrivate, also when the allow list names them', async (t) => {
  const resolver = resolverOf({ 'internal.test': ['127.0.0.1'] });
  const p = origin.port;
  const session = createEgressSession(
    policy({
      allowedHosts: [`127.0.0.1:${p}`, `[::1]:${p}`, '169.254.169.254', '[::ffff:127.0.0.1]', '10.1.2.3', `internal.test:${p}`],
      maxRequests: 1000,
    }),
    [],
    { resolver },
  );
  const cases: [string, string, string][] = [
    [`http://127.0.0.1:${p}/echo`, '127.0.0.1', 'loopback 127.0.0.0/8'],
    [`http://[::1]:${p}/echo`, '::1', 'loopback ::1/128'],
    [`http://0x7f.1:${p}/echo`, '127.0.0.1', 'loopback 127.0.0.0/8'],
    [`http://2130706433:${p}/echo`, '127.0.0.1', 'loopback 127.0.0.0/8'],
    [`http://127.1:${p}/echo`, '127.0.0.1', 'loopback 127.0.0.0/8'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254', 'link-local'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1', 'loopback 127.0.0.0/8 (IPv4-mapped IPv6)'],
    ['http://10.1.2.3/', '10.1.2.3', 'private 10.0.0.0/8'],
    [`http://internal.test:${p}/echo`, 'internal.test resolves to 127.0.0.1', 'loopback 127.0.0.0/8'],
  ];
  for (const [url, host, range] of cases) {
    const error = await refused(t, get(session, url), 'EGRESS_DENIED', host, range);
    t.true(error.message.includes('allowedPrivate'), error.message);
  }
  t.deepEqual(resolver.calls, ['internal.test']);
  t.is(origin.seen.filter((seen) => seen.headers.host?.startsWith('internal.test')).length, 0);
});

test('every resolved address is checked: one internal address among public ones refuses the host', async (t) => {
  const resolver = resolverOf({ 'mixed.test': ['93.184.216.34', '2606:2800:220:1::1', '192.168.1.10'] });
  const session = createEgressSession(policy({ allowedHosts: ['mixed.test'] }), [], { resolver });
  await refused(t, get(session, 'https://mixed.test/'), 'EGRESS_DENIED', 'mixed.test resolves to 192.168.1.10', 'private 192.168.0.0/16');
});

test('more internal ranges: CGNAT, unspecified, broadcast, multicast, unique-local, link-local v6, NAT64 of loopback', async (t) => {
  const table: Record<string, string[]> = {
    'cgnat.test': ['100.64.1.1'],
    'zero.test': ['0.0.0.0'],
    'broadcast.test': ['255.255.255.255'],
    'multicast.test': ['239.1.1.1'],
    'ula.test': ['fd12::1'],
    'linklocal6.test': ['fe80::1'],
    'unspecified6.test': ['::'],
    'nat64.test': ['64:ff9b::7f00:1'],
    'private172.test': ['172.20.0.1'],
  };
  const session = createEgressSession(policy({ allowedHosts: ['*.test'], maxRequests: 1000 }), [], { resolver: resolverOf(table) });
  const expected: Record<string, string> = {
    'cgnat.test': 'carrier-grade NAT',
    'zero.test': 'unspecified',
    'broadcast.test': 'broadcast',
    'multicast.test': 'multicast',
    'ula.test': 'unique-local',
    'linklocal6.test': 'link-local fe80::/10',
    'unspecified6.test': 'unspecified ::/128',
    'nat64.test': 'loopback 127.0.0.0/8 (embedded in NAT64 address)',
    'private172.test': 'private 172.16.0.0/12',
  };
  for (const [host, range] of Object.entries(expected)) await refused(t, get(session, `http://${host}/`), 'EGRESS_DENIED', host, range);
});

test('an allow list of "*" admits any host, but internal addresses are still refused', async (t) => {
  const resolver = resolverOf({ 'anything.test': ['127.0.0.1'] });
  const session = createEgressSession(policy({ allowedHosts: ['*', `*:${origin.port}`] }), [], { resolver });
  await refused(
    t,
    get(session, `http://anything.test:${origin.port}/echo`),
    'EGRESS_DENIED',
    'anything.test resolves to 127.0.0.1',
    'loopback',
  );
  await refused(t, get(session, 'http://169.254.169.254/latest/meta-data/'), 'EGRESS_DENIED', 'link-local');
  await refused(t, get(session, 'https://anything.test:8443/'), 'EGRESS_DENIED', 'allowed hosts');
});

test('allowedPrivate permits by host name or by CIDR, and nothing else', async (t) => {
  const resolver = resolverOf({ 'intranet.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] });
  const hosts = [`intranet.test:${origin.port}`, `other.test:${origin.port}`];
  const byName = createEgressSession(policy({ allowedHosts: hosts, allowedPrivate: ['INTRANET.test'] }), [], { resolver });
  t.is((await get(byName, `http://intranet.test:${origin.port}/echo`)).status, 200);
  await refused(t, get(byName, `http://other.test:${origin.port}/echo`), 'EGRESS_DENIED', 'other.test resolves to 127.0.0.1');
  const byCidr = createEgressSession(policy({ allowedHosts: hosts, allowedPrivate: ['127.0.0.0/30'] }), [], { resolver });
  t.is((await get(byCidr, `http://other.test:${origin.port}/echo`)).status, 200);
  const mapped = createEgressSession(policy({ allowedHosts: [`[::ffff:127.0.0.1]:${origin.port}`], allowedPrivate: ['10.0.0.0/8'] }), []);
  await refused(t, get(mapped, `http://[::ffff:127.0.0.1]:${origin.port}/`), 'EGRESS_DENIED', 'IPv4-mapped');
});

// ---------------------------------------------------------------------------------------
// Allow list

test('a host outside the allow list is refused by name before any DNS lookup', async (t) => {
  const resolver = resolverOf({ 'elsewhere.test': ['93.184.216.34'] });
  const session = createEgressSession(loopbackPolicy(), [], { resolver });
  await refused(t, get(session, 'https://elsewhere.test/data'), 'EGRESS_DENIED', 'elsewhere.test:443', 'allowed hosts');
  await refused(t, get(session, `http://127.0.0.1:${origin.port + 1 === 65536 ? 1 : origin.port + 1}/`), 'EGRESS_DENIED', 'allowed hosts');
  t.deepEqual(resolver.calls, []);
});

test('host patterns: wildcards match subdomains only, ports default by scheme, case is ignored', (t) => {
  const list = new HostAllowList(['*.Example.com', 'api.test:8443', 'plain.test', '[::1]:9000', 'bücher.example']);
  const at = (protocol: string, host: string, port: number): boolean => list.matches({ protocol, host, port });
  t.true(at('https:', 'a.example.com', 443));
  t.true(at('http:', 'a.b.example.com', 80));
  t.false(at('https:', 'example.com', 443));
  t.false(at('https:', 'evilexample.com', 443));
  t.false(at('https:', 'a.example.com', 8443));
  t.true(at('https:', 'api.test', 8443));
  t.true(at('http:', 'api.test', 8443));
  t.false(at('https:', 'api.test', 443));
  t.true(at('https:', 'plain.test', 443));
  t.true(at('http:', 'plain.test', 80));
  t.false(at('http:', 'plain.test', 443));
  t.false(at('https:', 'plain.test', 80));
  t.true(at('https:', 'plain.test.', 443));
  t.true(at('http:', '::1', 9000));
  t.true(at('https:', 'xn--bcher-kva.example', 443));
  const any = new HostAllowList(['*']);
  t.true(any.matches({ protocol: 'https:', host: 'anything.example', port: 443 }));
  t.false(any.matches({ protocol: 'https:', host: 'anything.example', port: 8443 }));
  t.true(new HostAllowList(['*:8443']).matches({ protocol: 'https:', host: 'anything.example', port: 8443 }));
  t.throws(() => new HostAllowList(['a.*.com']), { instanceOf: TypeError });
  t.throws(() => new HostAllowList(['host:99999']), { instanceOf: TypeError });
  t.throws(() => new HostAllowList(['*.10.0.0.1']), { instanceOf: TypeError });
});

test('a wildcard entry admits subdomains end to end, not the bare domain', async (t) => {
  const resolver = resolverOf({ 'api.example.test': ['127.0.0.1'], 'example.test': ['127.0.0.1'], 'evilexample.test': ['127.0.0.1'] });
  const session = createEgressSession(loopbackPolicy({ allowedHosts: [`*.example.test:${origin.port}`] }), [], { resolver });
  const response = await get(session, `http://API.Example.TEST:${origin.port}/echo`);
  t.is(response.status, 200);
  t.is(echoed(response.body).headers.host, `api.example.test:${origin.port}`);
  await refused(t, get(session, `http://example.test:${origin.port}/echo`), 'EGRESS_DENIED', 'example.test');
  await refused(t, get(session, `http://evilexample.test:${origin.port}/echo`), 'EGRESS_DENIED', 'evilexample.test');
  t.deepEqual(resolver.calls, ['api.example.test']);
});

test('only http and https URLs without embedded credentials, and ordinary methods', async (t) => {
  const session = createEgressSession(loopbackPolicy(), []);
  await refused(t, get(session, 'ftp://127.0.0.1/file'), 'EGRESS_DENIED', 'ftp:');
  await refused(t, get(session, 'file:///etc/passwd'), 'EGRESS_DENIED', 'file:');
  await refused(t, get(session, 'data:text/plain,hi'), 'EGRESS_DENIED', 'data:');
  await refused(t, get(session, '/relative'), 'EGRESS_DENIED', 'not a valid');
  const withUser = await refused(
    t,
    get(session, `http://user:hunter2@127.0.0.1:${origin.port}/echo`),
    'EGRESS_DENIED',
    'embedded credentials',
  );
  t.false(withUser.message.includes('hunter2'));
  await refused(t, session.request({ method: 'CONNECT', url: `${base}/echo` }), 'EGRESS_DENIED', 'CONNECT');
  await refused(t, session.request({ method: 'TRACE', url: `${base}/echo` }), 'EGRESS_DENIED', 'TRACE');
  t.is(origin.seen.filter((seen) => seen.method === 'TRACE' || seen.method === 'CONNECT').length, 0);
});

// ---------------------------------------------------------------------------------------
// DNS pinning

test('DNS rebinding: the connection is pinned to the checked address and the host never looks the name up again', async (t) => {
  // The "public" server answers on 127.0.0.2 (permitted by allowedPrivate); the internal one listens on 127.0.0.1, same port.
  const internal = await startOrigin({ name: 'internal' });
  const publicSide = await startOrigin({ host: '127.0.0.2', port: internal.port, name: 'public' });
  t.teardown(() => Promise.all([internal.close(), publicSide.close()]).then(() => undefined));
  const resolver = resolverOf({ 'rebind.test': (call) => (call === 1 ? ['127.0.0.2'] : ['127.0.0.1']) });
  const session = createEgressSession(policy({ allowedHosts: [`rebind.test:${internal.port}`], allowedPrivate: ['127.0.0.2/32'] }), [], {
    resolver,
  });

  const first = await get(session, `http://rebind.test:${internal.port}/echo`);
  t.is(echoed(first.body).name, 'public');
  t.is(echoed(first.body).headers.host, `rebind.test:${internal.port}`);
  t.is(publicSide.seen[0]?.localAddress, '127.0.0.2');
  t.deepEqual(resolver.calls, ['rebind.test']);

  // The next request looks up again (one lookup per hop) and sees loopback: refused, never connected.
  await refused(
    t,
    get(session, `http://rebind.test:${internal.port}/echo`),
    'EGRESS_DENIED',
    'rebind.test resolves to 127.0.0.1',
    'loopback',
  );
  t.deepEqual(resolver.calls, ['rebind.test', 'rebind.test']);

  // A redirect hop is resolved and checked on its own too.
  const again = resolverOf({ 'rebind.test': (call) => (call === 1 ? ['127.0.0.2'] : ['127.0.0.1']) });
  const hopping = createEgressSession(policy({ allowedHosts: [`rebind.test:${internal.port}`], allowedPrivate: ['127.0.0.2/32'] }), [], {
    resolver: again,
  });
  await refused(
    t,
    get(hopping, `http://rebind.test:${internal.port}/redirect?to=/echo`),
    'EGRESS_DENIED',
    'rebind.test resolves to 127.0.0.1',
  );
  t.deepEqual(again.calls, ['rebind.test', 'rebind.test']);
  t.is(internal.seen.length, 0);
  t.is(publicSide.seen.length, 2);
});

test('DNS failure and connection failure are EGRESS_FAILED', async (t) => {
  const closed = await startOrigin();
  const port = closed.port;
  await closed.close();
  const resolver = resolverOf({ 'gone.test': ['127.0.0.1'] });
  const session = createEgressSession(policy({ allowedHosts: ['nowhere.test', `gone.test:${port}`], allowedPrivate: ['127.0.0.1'] }), [], {
    resolver,
  });
  await refused(t, get(session, 'https://nowhere.test/'), 'EGRESS_FAILED', 'could not resolve nowhere.test', 'ENOTFOUND');
  await refused(t, get(session, `http://gone.test:${port}/`), 'EGRESS_FAILED', `gone.test:${port} (127.0.0.1)`, 'ECONNREFUSED');
});

// ---------------------------------------------------------------------------------------
// Redirects

function redirectSession(
  overrides: Partial<EgressPolicy> = {},
  grants: CredentialGrant[] = [],
  port = origin.port,
): { session: EgressSession; resolver: CountingResolver } {
  const resolver = resolverOf({
    'a.test': ['127.0.0.1'],
    'b.test': ['127.0.0.1'],
    'metadata.test': ['169.254.169.254'],
    'outside.test': ['127.0.0.1'],
  });
  const p = port;
  const session = createEgressSession(
    policy({
      allowedHosts: [`a.test:${p}`, `b.test:${p}`, `metadata.test:${p}`, `127.0.0.1:${p}`],
      allowedPrivate: ['a.test', 'b.test'],
      ...overrides,
    }),
    grants,
    { resolver },
  );
  return { session, resolver };
}

test('a redirect within the allow list is followed, each hop resolved and counted', async (t) => {
  const { session, resolver } = redirectSession();
  const p = origin.port;
  const response = await get(session, `http://a.test:${p}/redirect?to=${encodeURIComponent(`http://b.test:${p}/echo?from=a`)}`);
  t.is(response.status, 200);
  t.is(echoed(response.body).headers.host, `b.test:${p}`);
  t.is(echoed(response.body).url, '/echo?from=a');
  t.deepEqual(resolver.calls, ['a.test', 'b.test']);
  t.is(session.requestCount, 2);
  const relative = await get(session, `http://a.test:${p}/redirect?status=308&to=/echo`);
  t.is(echoed(relative.body).url, '/echo');
});

test('a redirect to an internal address or a host outside the allow list is EGRESS_DENIED', async (t) => {
  const own = await ownOrigin(t);
  const { session, resolver } = redirectSession({}, [], own.port);
  const p = own.port;
  const before = own.seen.length;
  await refused(
    t,
    get(session, `http://a.test:${p}/redirect?to=${encodeURIComponent(`http://metadata.test:${p}/latest`)}`),
    'EGRESS_DENIED',
    'metadata.test resolves to 169.254.169.254',
    'link-local',
  );
  await refused(
    t,
    get(session, `http://a.test:${p}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${p}/echo`)}`),
    'EGRESS_DENIED',
    '127.0.0.1',
    'loopback',
  );
  await refused(
    t,
    get(session, `http://a.test:${p}/redirect?to=${encodeURIComponent(`http://outside.test:${p}/echo`)}`),
    'EGRESS_DENIED',
    'outside.test',
    'allowed hosts',
  );
  await refused(t, get(session, `http://a.test:${p}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`), 'EGRESS_DENIED', 'file:');
  // Only the first hop of each request reached the server.
  t.is(own.seen.length - before, 4);
  t.false(resolver.calls.includes('outside.test'));
});

test('redirect rules: POST is not followed on 302, 303 turns into GET, more than 5 redirects fail', async (t) => {
  const { session } = redirectSession();
  const p = origin.port;
  const kept = await session.request({ method: 'POST', url: `http://a.test:${p}/redirect?to=/echo`, body: 'x' });
  t.is(kept.status, 302);
  t.is(kept.headers.location, '/echo');
  const seeOther = await session.request({
    method: 'POST',
    url: `http://a.test:${p}/redirect?status=303&to=/echo`,
    body: 'payload',
    headers: { 'content-type': 'text/plain' },
  });
  const echo = echoed(seeOther.body);
  t.is(echo.method, 'GET');
  t.is(echo.body, '');
  t.is(echo.headers['content-type'], undefined);
  const before = session.requestCount;
  await refused(t, get(session, `http://a.test:${p}/loop`), 'EGRESS_FAILED', `more than ${MAX_REDIRECTS} redirects`);
  t.is(session.requestCount - before, MAX_REDIRECTS + 1);
});

// ---------------------------------------------------------------------------------------
// Caps

test('maxRequests: N requests pass, request N+1 is EGRESS_LIMIT, redirect hops count', async (t) => {
  const own = await ownOrigin(t);
  const session = createEgressSession(loopbackPolicy({ maxRequests: 3 }, own.port), []);
  for (let i = 0; i < 3; i += 1) t.is((await get(session, `${own.base}/echo`)).status, 200);
  const before = own.seen.length;
  await refused(t, get(session, `${own.base}/echo`), 'EGRESS_LIMIT', 'more than 3 requests');
  t.is(own.seen.length, before);
  t.is(session.requestCount, 4);

  const hops = createEgressSession(loopbackPolicy({ maxRequests: 2 }, own.port), []);
  t.is((await get(hops, `${own.base}/redirect?to=/echo`)).status, 200);
  await refused(t, get(hops, `${own.base}/echo`), 'EGRESS_LIMIT');
  const chain = createEgressSession(loopbackPolicy({ maxRequests: 2 }, own.port), []);
  await refused(t, get(chain, `${own.base}/redirect?to=${encodeURIComponent('/redirect?to=/echo')}`), 'EGRESS_LIMIT');

  const refusedCount = createEgressSession(loopbackPolicy({ maxRequests: 1 }, own.port), []);
  await refused(t, get(refusedCount, 'http://elsewhere.test/'), 'EGRESS_DENIED');
  await refused(t, get(refusedCount, `${own.base}/echo`), 'EGRESS_LIMIT');
});

test('maxResponseBytes: exactly N bytes pass, N+1 is EGRESS_LIMIT, with and without content-length', async (t) => {
  const session = createEgressSession(loopbackPolicy({ maxResponseBytes: 1000 }), []);
  t.is((await get(session, `${base}/bytes?n=1000`)).body, 'a'.repeat(1000));
  await refused(t, get(session, `${base}/bytes?n=1001`), 'EGRESS_LIMIT', 'larger than 1000 bytes');
  t.is((await get(session, `${base}/chunked?n=1000`)).body, 'b'.repeat(1000));
  await refused(t, get(session, `${base}/chunked?n=1001`), 'EGRESS_LIMIT', 'larger than 1000 bytes');
  const empty = createEgressSession(loopbackPolicy({ maxResponseBytes: 0 }), []);
  t.is((await get(empty, `${base}/bytes?n=0`)).body, '');
  await refused(t, get(empty, `${base}/chunked?n=1`), 'EGRESS_LIMIT');
});

test('an endless response is cut off at the cap and its connection closed', async (t) => {
  const session = createEgressSession(loopbackPolicy({ maxResponseBytes: 64 * 1024 }), []);
  const closedBefore = origin.endlessClosed;
  await refused(t, get(session, `${base}/endless`), 'EGRESS_LIMIT');
  await waitFor(() => origin.endlessClosed > closedBefore);
  t.pass();
});

test('requestTimeoutMs covers waiting for headers, a slow body and a hanging resolver: EGRESS_TIMEOUT', async (t) => {
  const resolver = resolverOf({});
  const hanging = async (host: string): Promise<ResolvedAddress[]> => {
    resolver.calls.push(host);
    return new Promise(() => undefined);
  };
  const session = createEgressSession(
    loopbackPolicy({ requestTimeoutMs: 300, allowedHosts: [`127.0.0.1:${origin.port}`, 'slow-dns.test'] }),
    [],
    { resolver: hanging },
  );
  for (const url of [`${base}/hang`, `${base}/trickle`, 'https://slow-dns.test/']) {
    const started = Date.now();
    await refused(t, get(session, url), 'EGRESS_TIMEOUT', '300 ms');
    const elapsed = Date.now() - started;
    t.true(elapsed >= 290 && elapsed < 2000, `${url}: ${elapsed} ms`);
  }
});

test("the caller's AbortSignal aborts at once", async (t) => {
  const session = createEgressSession(loopbackPolicy(), []);
  const controller = new AbortController();
  const pending = session.request({ method: 'GET', url: `${base}/hang` }, controller.signal);
  await waitFor(() => origin.seen.some((seen) => seen.url === '/hang'));
  const started = Date.now();
  controller.abort();
  await refused(t, pending, 'EGRESS_FAILED', 'aborted');
  t.true(Date.now() - started < 500);
  await refused(t, session.request({ method: 'GET', url: `${base}/echo` }, AbortSignal.abort()), 'EGRESS_FAILED', 'aborted');
});

// ---------------------------------------------------------------------------------------
// Credentials

const TOKEN = 'tok-S3CRET-0123456789abcdef';
const PASSWORD = 'pw-S3CRET-fedcba9876543210';

function grant(
  handle: string,
  placement: CredentialGrant['placement'],
  overrides: Partial<CredentialGrant> = {},
  port = origin.port,
): CredentialGrant {
  return {
    handle,
    placement,
    secret: placement.kind === 'basic' ? { username: 'robot', password: PASSWORD } : { token: TOKEN },
    allowedHosts: [`127.0.0.1:${port}`, `a.test:${port}`],
    expiresAt: Date.now() + 3600_000,
    ...overrides,
  };
}

function assertNoSecret(t: ExecutionContext, text: string): void {
  t.false(text.includes(TOKEN), text);
  t.false(text.includes(PASSWORD), text);
  t.false(text.includes(Buffer.from(`robot:${PASSWORD}`).toString('base64')), text);
}

test('credential placements arrive at the server: bearer, basic, header, query', async (t) => {
  const own = await ownOrigin(t);
  const grants = [
    grant('h-bearer', { kind: 'bearer' }, {}, own.port),
    grant('h-basic', { kind: 'basic' }, {}, own.port),
    grant('h-header', { kind: 'header', name: 'X-Api-Key' }, {}, own.port),
    grant('h-query', { kind: 'query', name: 'api_key' }, {}, own.port),
  ];
  const session = createEgressSession(loopbackPolicy({}, own.port), grants, { now: () => 1_000_000 });
  const before = own.seen.length;
  for (const handle of ['h-bearer', 'h-basic', 'h-header', 'h-query']) {
    const response = await get(session, `${own.base}/echo?q=1`, { credential: handle });
    t.is(response.status, 200);
    // The echo server reflects the request; what the plugin reads back has the secret redacted.
    assertNoSecret(t, response.body);
  }
  const [bearer, basic, header, query] = own.seen.slice(before);
  t.is(bearer?.headers.authorization, `Bearer ${TOKEN}`);
  t.is(basic?.headers.authorization, `Basic ${Buffer.from(`robot:${PASSWORD}`).toString('base64')}`);
  t.is(header?.headers['x-api-key'], TOKEN);
  t.is(header?.headers.authorization, undefined);
  t.is(query?.url, `/echo?q=1&api_key=${TOKEN}`);
  t.is(query?.headers.authorization, undefined);
});

test('unknown, expired and foreign credentials are CREDENTIAL_DENIED and no message carries the secret', async (t) => {
  const own = await ownOrigin(t);
  const resolver = resolverOf({ 'other.test': ['127.0.0.1'] });
  let now = 1_000_000;
  const grants = [
    grant('h-bearer', { kind: 'bearer' }, { expiresAt: 1_000_500 }, own.port),
    grant('h-narrow', { kind: 'bearer' }, { allowedHosts: ['other.test'] }),
  ];
  const session = createEgressSession(
    loopbackPolicy({ allowedHosts: [`127.0.0.1:${own.port}`, `other.test:${own.port}`], allowedPrivate: ['127.0.0.1/32'] }, own.port),
    grants,
    { now: () => now, resolver },
  );
  const before = own.seen.length;
  const errors: EgressError[] = [];
  errors.push(await refused(t, get(session, `${own.base}/echo`, { credential: 'h-nope' }), 'CREDENTIAL_DENIED', 'unknown'));
  // Host in the policy but not in the grant.
  errors.push(
    await refused(
      t,
      get(session, `http://other.test:${own.port}/echo`, { credential: 'h-bearer' }),
      'CREDENTIAL_DENIED',
      `other.test:${own.port}`,
    ),
  );
  // Host in the grant (port 443) but not in the policy.
  errors.push(await refused(t, get(session, 'https://other.test/', { credential: 'h-narrow' }), 'CREDENTIAL_DENIED', 'other.test:443'));
  errors.push(
    await refused(
      t,
      get(session, `${own.base}/echo`, { credential: 'h-bearer', headers: { Authorization: 'Bearer mine' } }),
      'CREDENTIAL_DENIED',
      'authorization',
    ),
  );
  t.is((await get(session, `${own.base}/echo`, { credential: 'h-bearer' })).status, 200);
  now = 1_000_500;
  errors.push(await refused(t, get(session, `${own.base}/echo`, { credential: 'h-bearer' }), 'CREDENTIAL_DENIED', 'expired'));
  t.is(own.seen.length - before, 1);
  t.deepEqual(resolver.calls, []);
  for (const error of errors) assertNoSecret(t, `${error.message} ${error.stack ?? ''}`);
});

test('a credential follows a same-origin redirect and is stripped when a redirect leaves the host', async (t) => {
  const own = await ownOrigin(t);
  const p = own.port;
  const hosts = [`a.test:${p}`, `b.test:${p}`];
  const { session: fresh } = redirectSession(
    {},
    [
      grant('h-bearer', { kind: 'bearer' }, { allowedHosts: hosts }),
      grant('h-query', { kind: 'query', name: 'key' }, { allowedHosts: hosts }),
    ],
    own.port,
  );
  const before = own.seen.length;
  await get(fresh, `http://a.test:${p}/redirect?to=/echo`, { credential: 'h-bearer' });
  await get(fresh, `http://a.test:${p}/redirect?to=${encodeURIComponent(`http://b.test:${p}/echo`)}`, {
    credential: 'h-bearer',
    headers: { cookie: 'session=1' },
  });
  await get(fresh, `http://a.test:${p}/redirect?to=${encodeURIComponent(`http://b.test:${p}/echo`)}`, { credential: 'h-query' });
  const [sameFirst, sameSecond, crossFirst, crossSecond, queryFirst, querySecond] = own.seen.slice(before);
  t.is(sameFirst?.headers.authorization, `Bearer ${TOKEN}`);
  t.is(sameSecond?.headers.authorization, `Bearer ${TOKEN}`);
  t.is(crossFirst?.headers.authorization, `Bearer ${TOKEN}`);
  t.is(crossFirst?.headers.cookie, 'session=1');
  t.is(crossSecond?.headers.host, `b.test:${p}`);
  t.is(crossSecond?.headers.authorization, undefined);
  t.is(crossSecond?.headers.cookie, undefined);
  t.true(queryFirst?.url.includes(`key=${TOKEN}`));
  t.is(querySecond?.url, '/echo');
});

// ---------------------------------------------------------------------------------------
// Headers

test('plugin headers that frame, route or proxy the request are refused', async (t) => {
  const own = await ownOrigin(t);
  const session = createEgressSession(loopbackPolicy({ maxRequests: 100 }, own.port), []);
  const before = own.seen.length;
  for (const name of [
    'Host',
    'connection',
    'Transfer-Encoding',
    'content-length',
    'Proxy-Authorization',
    'proxy-foo',
    'upgrade',
    'te',
    'expect',
    'accept-encoding',
  ]) {
    await refused(t, get(session, `${own.base}/echo`, { headers: { [name]: 'x' } }), 'EGRESS_DENIED', name.toLowerCase());
  }
  await refused(t, get(session, `${own.base}/echo`, { headers: { 'x-evil': 'a\r\nhost: internal' } }), 'EGRESS_DENIED', 'invalid');
  await refused(t, get(session, `${own.base}/echo`, { headers: { 'bad name': 'a' } }), 'EGRESS_DENIED', 'invalid');
  await refused(t, get(session, `${own.base}/echo`, { headers: { 'X-A': '1', 'x-a': '2' } }), 'EGRESS_DENIED', 'twice');
  t.is(own.seen.length, before);
});

// ---------------------------------------------------------------------------------------
// TLS

interface Pki {
  caPem: string;
  key: string;
  cert: string;
}

function makePki(): Pki {
  const toForge = (): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forgeKey = forge.pki.privateKeyFromPem(
      privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    ) as forge.pki.rsa.PrivateKey;
    return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
  };
  const validity = (cert: forge.pki.Certificate, serial: string): void => {
    cert.serialNumber = serial;
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  };
  const caKeys = toForge();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  validity(ca, '01');
  const caName = [{ name: 'commonName', value: 'Switchyard Test Inspection CA' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const leafKeys = toForge();
  const leaf = forge.pki.createCertificate();
  leaf.publicKey = leafKeys.publicKey;
  validity(leaf, '02');
  leaf.setSubject([{ name: 'commonName', value: 'secure.test' }]);
  leaf.setIssuer(caName);
  leaf.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'secure.test' }] },
  ]);
  leaf.sign(caKeys.privateKey, forge.md.sha256.create());
  return {
    caPem: forge.pki.certificateToPem(ca),
    key: forge.pki.privateKeyToPem(leafKeys.privateKey),
    cert: forge.pki.certificateToPem(leaf),
  };
}

let pki: Pki | undefined;
let secure: (Origin & { server: http.Server }) | undefined;
let sniSeen: string[] = [];

async function secureOrigin(): Promise<{ pki: Pki; origin: Origin }> {
  if (!pki || !secure) {
    pki = makePki();
    secure = await startOrigin({ tls: { key: pki.key, cert: pki.cert }, name: 'secure' });
    secure.server.on('secureConnection', (socket: TLSSocket) => {
      sniSeen.push(String(socket.servername));
    });
  }
  return { pki, origin: secure };
}

test.after.always(async () => {
  await secure?.close();
});

test.serial('HTTPS with a private CA works only when extraCaPem has that CA, and the name is still verified', async (t) => {
  const { pki: keys, origin: server } = await secureOrigin();
  const resolver = resolverOf({ 'secure.test': ['127.0.0.1'], 'wrong-name.test': ['127.0.0.1'] });
  const hosts = [`secure.test:${server.port}`, `wrong-name.test:${server.port}`];
  sniSeen = [];
  const trusted = createEgressSession(loopbackPolicy({ allowedHosts: hosts, extraCaPem: keys.caPem }), [], { resolver });
  const response = await get(trusted, `https://secure.test:${server.port}/echo`);
  t.is(response.status, 200);
  t.is(echoed(response.body).name, 'secure');
  t.deepEqual(sniSeen, ['secure.test']);
  await refused(t, get(trusted, `https://wrong-name.test:${server.port}/echo`), 'EGRESS_FAILED', 'wrong-name.test');

  const untrusted = createEgressSession(loopbackPolicy({ allowedHosts: hosts }), [], { resolver });
  await refused(t, get(untrusted, `https://secure.test:${server.port}/echo`), 'EGRESS_FAILED', 'certificate');
  t.is(server.seen.length, 1);
});

// ---------------------------------------------------------------------------------------
// Proxy

interface Proxy {
  port: number;
  connects: { target: string; authorization: string | undefined }[];
  forwards: { url: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

/** A small forward proxy: CONNECT tunnels and absolute-form requests, all to 127.0.0.1 (it is its own DNS). */
async function startProxy(ports: Record<string, number>): Promise<Proxy> {
  const connects: Proxy['connects'] = [];
  const forwards: Proxy['forwards'] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    forwards.push({ url: req.url ?? '', authorization: req.headers['proxy-authorization'] });
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const upstream = http.request(
      { host: '127.0.0.1', port: Number(target.port), method: req.method, path: `${target.pathname}${target.search}`, headers },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  server.on('connect', (req: IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    const target = req.url ?? '';
    connects.push({ target, authorization: req.headers['proxy-authorization'] });
    const [host, port] = target.split(':');
    if (ports[host ?? ''] === undefined || Number(port) !== ports[host ?? '']) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(port), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    port,
    connects,
    forwards,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test.serial('HTTPS through a local CONNECT proxy: the target is checked first, the tunnel names the host, TLS verifies it', async (t) => {
  const { pki: keys, origin: server } = await secureOrigin();
  const proxy = await startProxy({ 'secure.test': server.port });
  t.teardown(() => proxy.close());
  const resolver = resolverOf({ 'secure.test': ['127.0.0.1'], 'evil.test': ['10.0.0.5'], 'refused.test': ['127.0.0.1'] });
  const session = createEgressSession(
    loopbackPolicy({
      allowedHosts: [`secure.test:${server.port}`, `evil.test:${server.port}`, `refused.test:${server.port}`],
      extraCaPem: keys.caPem,
      proxy: { httpsProxy: `http://user:p%40ss@127.0.0.1:${proxy.port}`, noProxy: 'localhost' },
    }),
    [grant('h-bearer', { kind: 'bearer' }, { allowedHosts: [`secure.test:${server.port}`] })],
    { resolver },
  );
  const before = server.seen.length;
  const response = await get(session, `https://secure.test:${server.port}/echo`, { credential: 'h-bearer' });
  t.is(response.status, 200);
  t.is(echoed(response.body).name, 'secure');
  t.is(server.seen[before]?.headers.authorization, `Bearer ${TOKEN}`);
  t.deepEqual(proxy.connects, [
    { target: `secure.test:${server.port}`, authorization: `Basic ${Buffer.from('user:p@ss').toString('base64')}` },
  ]);
  t.deepEqual(resolver.calls, ['secure.test']);

  // The target's own addresses are still checked: the proxy never sees a refused host.
  await refused(t, get(session, `https://evil.test:${server.port}/`), 'EGRESS_DENIED', 'evil.test resolves to 10.0.0.5');
  await refused(t, get(session, `https://elsewhere.test/`), 'EGRESS_DENIED', 'allowed hosts');
  t.is(proxy.connects.length, 1);
  // A proxy that refuses the tunnel.
  await refused(t, get(session, `https://refused.test:${server.port}/`), 'EGRESS_FAILED', 'proxy refused', '403');
});

test('plain HTTP through the proxy in absolute form; noProxy hosts go direct', async (t) => {
  const proxy = await startProxy({});
  t.teardown(() => proxy.close());
  const resolver = resolverOf({ 'a.test': ['127.0.0.1'], 'direct.test': ['127.0.0.1'], 'sub.direct.test': ['127.0.0.1'] });
  const p = origin.port;
  const session = createEgressSession(
    loopbackPolicy({
      allowedHosts: [`a.test:${p}`, `direct.test:${p}`, `*.direct.test:${p}`],
      proxy: {
        httpProxy: `http://127.0.0.1:${proxy.port}`,
        httpsProxy: `http://127.0.0.1:${proxy.port}`,
        noProxy: 'other.example, .direct.test',
      },
    }),
    [],
    { resolver },
  );
  const viaProxy = await get(session, `http://a.test:${p}/echo?x=1`);
  t.is(echoed(viaProxy.body).headers.host, `a.test:${p}`);
  t.deepEqual(proxy.forwards, [{ url: `http://a.test:${p}/echo?x=1`, authorization: undefined }]);
  await get(session, `http://direct.test:${p}/echo`);
  await get(session, `http://sub.direct.test:${p}/echo`);
  t.is(proxy.forwards.length, 1);
  t.deepEqual(resolver.calls, ['a.test', 'direct.test', 'sub.direct.test']);
});

test('NO_PROXY matching follows curl: suffixes, leading dots, ports and *', (t) => {
  const list = new NoProxyList('example.com, .corp.test,*.wild.test, host.test:8080');
  const bypass = (host: string, port = 443): boolean => list.bypasses({ protocol: 'https:', host, port });
  t.true(bypass('example.com'));
  t.true(bypass('api.example.com'));
  t.false(bypass('badexample.com'));
  t.true(bypass('corp.test'));
  t.true(bypass('x.corp.test'));
  t.true(bypass('a.wild.test'));
  t.true(bypass('host.test', 8080));
  t.false(bypass('host.test', 443));
  t.true(new NoProxyList('*').bypasses({ protocol: 'http:', host: 'anything', port: 80 }));
  t.false(new NoProxyList(undefined).bypasses({ protocol: 'http:', host: 'anything', port: 80 }));
});

test('configuration mistakes fail when the session is created', (t) => {
  t.throws(() => createEgressSession(policy({ allowedPrivate: ['10.0.0.0/33'] }), []), { instanceOf: TypeError });
  t.throws(() => createEgressSession(policy({ proxy: { httpsProxy: 'socks5://127.0.0.1:1080' } }), []), { instanceOf: TypeError });
  t.throws(() => createEgressSession(policy({ maxRequests: -1 }), []), { instanceOf: TypeError });
  t.throws(() => createEgressSession(policy(), [grant('x', { kind: 'bearer' }), grant('x', { kind: 'bearer' })]), {
    instanceOf: TypeError,
  });
  t.throws(() => createEgressSession(policy(), [grant('x', { kind: 'header', name: 'host' })]), { instanceOf: TypeError });
});
