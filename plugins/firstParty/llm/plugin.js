// llm/chat@1: one chat completion against an OpenAI-compatible server. The host checks the
// answer against responseSchema, meters tokens per tenant and serves the opt-in cache.
defineAction('chat', async (input, context) => {
  const credential = context.credential;
  if (!credential || credential.type !== 'openai') {
    throw new PluginError('LLM_CREDENTIAL_REQUIRED', 'llm/chat needs a credential of type openai (its baseUrl names the model server)', { retryable: false });
  }
  const body = {
    model: input.model,
    messages: input.messages || [{ role: 'user', content: input.prompt }],
    temperature: input.temperature === undefined ? 0 : input.temperature,
  };
  if (input.maxTokens !== undefined) body.max_tokens = input.maxTokens;
  if (input.responseSchema !== undefined) {
    body.response_format = { type: 'json_schema', json_schema: { name: 'response', schema: input.responseSchema, strict: true } };
  }
  const response = await http.request({
    method: 'POST',
    url: `${credential.config.baseUrl.replace(/\/+$/, '')}/chat/completions`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    credential: credential.handle,
  });
  if (response.status === 429 || response.status >= 500) {
    throw new PluginError('LLM_UNAVAILABLE', `the model server answered ${response.status}`, { retryable: true });
  }
  if (response.status < 200 || response.status > 299) {
    throw new PluginError('LLM_REJECTED', `the model server answered ${response.status}: ${response.body.slice(0, 500)}`, { retryable: false });
  }
  let data;
  try {
    data = JSON.parse(response.body);
  } catch (error) {
    throw new PluginError('LLM_BAD_RESPONSE', 'the model server did not answer with JSON', { retryable: true });
  }
  const choice = data && Array.isArray(data.choices) ? data.choices[0] : undefined;
  const text = choice && choice.message && typeof choice.message.content === 'string' ? choice.message.content : null;
  if (text === null) throw new PluginError('LLM_BAD_RESPONSE', 'the answer has no choices[0].message.content', { retryable: true });
  let json = null;
  if (input.responseSchema !== undefined) {
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new PluginError('LLM_INVALID_JSON', 'responseSchema was given but the model did not answer with JSON', { retryable: true });
    }
  }
  const usage = data.usage || {};
  return {
    text,
    json,
    usage: { promptTokens: Number(usage.prompt_tokens) || 0, completionTokens: Number(usage.completion_tokens) || 0 },
    cached: false,
  };
});
