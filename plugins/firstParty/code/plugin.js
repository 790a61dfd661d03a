// core/code@1: the tenant's code becomes an async function inside the isolate; the host
// passes the run input and earlier outputs as copies (input.input, input.steps).
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

defineAction('code', async (input) => {
  if (typeof input.code !== 'string') throw new PluginError('BAD_USER_INPUT', 'with.code must be a string', { retryable: false });
  let fn;
  try {
    fn = new AsyncFunction('input', 'steps', input.code);
  } catch (error) {
    throw new PluginError('CODE_SYNTAX_ERROR', `with.code does not compile: ${error && error.message}`, { retryable: false });
  }
  const result = await fn(input.input, input.steps || {});
  return result === undefined ? null : result;
});
