/** The replay window at its exact edges, on a given clock (the HTTP tests cannot pin the appliance's second). */
import test from 'ava';
import { checkWebhookSignature, webhookSignatureHeader } from '../../core/triggers/webhookSignature.js';

const secret = 'whsec_unit-test-secret';
const body = Buffer.from('{"a":1}');
const NOW = 1_800_000_000;

const at = (timestamp: number, nowSeconds = NOW) =>
  checkWebhookSignature({
    header: webhookSignatureHeader(secret, timestamp, body),
    body,
    secrets: [secret],
    nowSeconds,
    windowSeconds: 300,
  }).refusal;

test('a signed timestamp exactly the window away is accepted, one second more is refused, in both directions', (t) => {
  t.is(at(NOW - 300), null);
  t.is(at(NOW + 300), null);
  t.is(at(NOW - 301), 'TIMESTAMP_OUTSIDE_WINDOW');
  t.is(at(NOW + 301), 'TIMESTAMP_OUTSIDE_WINDOW');
});

test('the time is checked only after the signature: a stale delivery by another secret is INVALID, not told about the window', (t) => {
  const header = webhookSignatureHeader('whsec_another', NOW - 1000, body);
  t.is(checkWebhookSignature({ header, body, secrets: [secret], nowSeconds: NOW, windowSeconds: 300 }).refusal, 'SIGNATURE_INVALID');
});
