import test from 'ava';
import { FairShare, RunningStepCaps, tenantFlag } from '../../core/engine/fairShare.js';
import { INTERACTIVE_STEP_TASK, STEP_TASK } from '../../core/runs/transition.js';

test('a tenant within its burst gets the top priority; a flood gets one step lower per doubling, in order', (t) => {
  const now = 0;
  const share = new FairShare({ burst: 4, windowMs: 1000, maxReadySteps: 0 }, () => now);
  const flood = Array.from({ length: 32 }, () => share.stepPriority('a'));
  t.deepEqual(flood.slice(0, 4), [0, 0, 0, 0], 'the burst');
  t.deepEqual(flood.slice(4, 8), [1, 1, 1, 1], '4 to 7 recent: one doubling');
  t.deepEqual(flood.slice(8, 16), Array(8).fill(2));
  t.deepEqual(flood.slice(16, 32), Array(16).fill(3));
  t.deepEqual(
    [...flood].sort((x, y) => x - y),
    flood,
    'never better than an earlier job of the same flood',
  );
  t.is(share.stepPriority('b'), 0, 'a quiet tenant goes ahead of the flood');
  t.deepEqual(share.stepJob('b'), { identifier: INTERACTIVE_STEP_TASK, priority: 0, flags: [tenantFlag('b')] }, 'in the interactive lane');
  t.like(
    share.stepJob('a'),
    { identifier: STEP_TASK, priority: 4 },
    'a flood (32 recent, three doublings over the burst) goes to the bulk lane',
  );
});

test('the count slides: half a window later half the previous window still counts; two windows later nothing', (t) => {
  let now = 0;
  const share = new FairShare({ burst: 4, windowMs: 1000, maxReadySteps: 0 }, () => now);
  for (let i = 0; i < 16; i++) share.stepPriority('a');
  now = 1500;
  // 16 × (1 - 500/1000) = 8 recent: one doubling above the burst.
  t.is(share.stepPriority('a'), 2);
  now = 3600;
  t.is(share.stepPriority('a'), 0);
});

test("running-step caps forbid a tenant's jobs exactly while it is at its cap", (t) => {
  const caps = new RunningStepCaps(2);
  t.is(caps.forbiddenFlags(), null);
  caps.enter('a');
  t.is(caps.forbiddenFlags(), null, 'one below the cap');
  caps.enter('a');
  t.deepEqual(caps.forbiddenFlags(), [tenantFlag('a')], 'at the cap');
  caps.enter('b');
  t.deepEqual(caps.forbiddenFlags(), [tenantFlag('a')], 'other tenants are not affected');
  caps.leave('a');
  t.is(caps.forbiddenFlags(), null, 'below the cap again');
  caps.leave('a');
  caps.leave('b');
  t.is(caps.forbiddenFlags(), null);
});
