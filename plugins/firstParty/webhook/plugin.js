// webhook/post@1: JSON to an incoming webhook; the answer's body is kept as text (webhooks answer "ok" and the like).
defineAction('post', async (input, context) => {
  const response = await http.request({
    method: 'POST',
    url: input.url,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input.payload === undefined ? {} : input.payload),
    credential: context.credential ? context.credential.handle : undefined,
  });
  if (response.status < 200 || response.status > 299) {
    const transient = response.status >= 500 || response.status === 429;
    throw new PluginError(transient ? 'WEBHOOK_TRANSIENT' : 'WEBHOOK_REJECTED', `the webhook answered ${response.status}`, { retryable: transient });
  }
  return { status: response.status, body: response.body.slice(0, 4096) };
});
