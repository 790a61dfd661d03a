import test from 'ava';
import { canonicalJson } from '../../core/canonicalJson.js';
import { auditContentJson, contentDigest, GENESIS_HASH, linkHash, type AuditContent } from '../../core/audit/chain.js';
import { ChainVerifier } from '../../core/audit/verifyChain.js';

const content = (over: Partial<AuditContent> = {}): AuditContent => ({
  id: '01900000-0000-7000-8000-000000000001',
  tenantId: null,
  at: '2026-12-01T10:00:00.000Z',
  actor: { tokenId: null, name: 'système "quoted" \u2028', role: 'SYSTEM' },
  action: 'run.started',
  target: { type: 'run', id: 'r1' },
  outcome: 'SUCCESS',
  reason: null,
  requestId: 'req-1',
  sourceAddress: '10.0.0.1',
  userAgent: 'ua/1 \u0000 ctrl',
  details: { b: [1, { z: null, a: 'é' }], a: 2.5 },
  ...over,
});

test('the fast canonical form of an event is byte for byte the generic canonical JSON', (t) => {
  for (const c of [
    content(),
    content({ tenantId: '01900000-0000-7000-8000-0000000000aa', reason: 'x', details: {} }),
    content({ actor: { tokenId: 't', name: '', role: 'ADMIN' }, target: { type: 't', id: null } }),
  ]) {
    t.is(auditContentJson(c), canonicalJson(c));
  }
});

test('a chain of three links verifies; each change is named at its event', (t) => {
  const events = [1, 2, 3].map((i) => content({ id: `id-${i}` }));
  let prev: Buffer = GENESIS_HASH;
  const links = events.map((e, i) => {
    const digest = contentDigest(e);
    const hash = linkHash(prev, i + 1, digest);
    const link = { seq: i + 1, contentDigest: digest.toString('hex'), prevHash: prev.toString('hex'), hash: hash.toString('hex') };
    prev = hash;
    return link;
  });
  const ok = new ChainVerifier(null, [{ seq: 3, hash: links[2]!.hash }]);
  links.forEach((l, i) => t.true(ok.add(l, events[i])));
  t.is(ok.finish(3), null);

  const modified = new ChainVerifier(null);
  modified.add(links[0]!, events[0]);
  modified.add(links[1]!, { ...events[1]!, outcome: 'FAILURE' });
  t.like(modified.finding, { kind: 'MODIFIED', seq: 2 });

  const forgedHash = new ChainVerifier(null);
  forgedHash.add({ ...links[0]!, hash: 'ab'.repeat(32) });
  t.like(forgedHash.finding, { kind: 'HASH_MISMATCH', seq: 1 });

  const backwards = new ChainVerifier(null);
  backwards.add(links[0]!);
  backwards.add(links[0]!);
  t.like(backwards.finding, { kind: 'OUT_OF_ORDER', seq: 1 });

  const short = new ChainVerifier(null);
  short.add(links[0]!);
  t.like(short.finish(3), { kind: 'TRUNCATED', seq: 2 });

  const wrongCheckpoint = new ChainVerifier(null, [{ seq: 2, hash: 'cd'.repeat(32) }]);
  links.forEach((l) => wrongCheckpoint.add(l));
  t.like(wrongCheckpoint.finding, { kind: 'CHECKPOINT_MISMATCH', seq: 1 });
});
