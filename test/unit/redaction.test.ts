import test from 'ava';
import { redactEnvFile, redactText } from '../../installer/supportBundle.js';

test('free text loses tokens, bearer and basic credentials, URL passwords, key blocks and secret-named values, and keeps the rest', (t) => {
  const cases: [string, string][] = [
    ['token sy_AbCdEfGh_0123456789abcdef0123456789abcdef used', 'token sy_[REDACTED] used'],
    ['authorization: Bearer abc.def-ghi', 'authorization: Bearer [REDACTED]'],
    ['Authorization: Basic dXNlcjpwYXNz', 'Authorization: Basic [REDACTED]'],
    ['postgres://owner:s3cr%40t@db:5432/sy', 'postgres://owner:[REDACTED]@db:5432/sy'],
    ['http://proxy.corp:3128 and https://u@host/x', 'http://proxy.corp:3128 and https://u@host/x'],
    ['{"password":"hunter2","user":"bob"}', '{"password":"[REDACTED]","user":"bob"}'],
    ['client_secret=abc123 next=1', 'client_secret=[REDACTED] next=1'],
    ["apiKey: 'k-1'", "apiKey: '[REDACTED]'"],
    ['-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----', '-----[REDACTED] PRIVATE KEY-----'],
    ['run 01a2 finished in 12 ms', 'run 01a2 finished in 12 ms'],
  ];
  for (const [input, expected] of cases) t.is(redactText(input), expected, input);
});

test('config files lose the values of secret-named keys whole, and URL passwords in the others', (t) => {
  t.is(
    redactEnvFile('PORT=8443\nSWITCHYARD_ADMIN_TOKEN=anything at all\nDATABASE_URL=postgres://o:pw@db/sy\n# comment with password=x'),
    'PORT=8443\nSWITCHYARD_ADMIN_TOKEN=[REDACTED]\nDATABASE_URL=postgres://o:[REDACTED]@db/sy\n# comment with password=[REDACTED]',
  );
});
