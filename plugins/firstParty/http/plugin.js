// http/request@1: one HTTP request through the host's egress layer, which enforces the
// host allow list, address checks, caps and credential placement.
function parseBody(response) {
  const type = response.headers['content-type'] || '';
  if (!/\bjson\b/i.test(type) || response.body === '') return response.body;
  try {
    return JSON.parse(response.body);
  } catch (error) {
    return response.body;
  }
}

defineAction('request', async (input, context) => {
  const method = input.method || 'GET';
  let body;
  const headers = Object.assign({}, input.headers || {});
  if (input.body !== undefined && input.body !== null) {
    if (typeof input.body === 'string') {
      body = input.body;
    } else {
      body = JSON.stringify(input.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
  }
  const response = await http.request({ method, url: input.url, headers, body, credential: context.credential ? context.credential.handle : undefined });
  const accepted = Array.isArray(input.acceptStatus) && input.acceptStatus.includes(response.status);
  if (!accepted && (response.status < 200 || response.status > 299)) {
    const transient = response.status >= 500 || response.status === 429;
    throw new PluginError(transient ? 'HTTP_TRANSIENT' : 'HTTP_STATUS', `${method} ${input.url} answered ${response.status}`, { retryable: transient });
  }
  return { status: response.status, headers: response.headers, body: parseBody(response) };
});
