/**
 * Actions of the first-party plugins that ship with the appliance. Workflows may name
 * them now; they execute once the plugin sandbox is installed (until then the engine's
 * executor fails them with EXECUTOR_UNAVAILABLE).
 */
export const FIRST_PARTY_ACTIONS: readonly string[] = ['core/code@1', 'http/request@1', 'llm/chat@1', 'webhook/post@1'];
