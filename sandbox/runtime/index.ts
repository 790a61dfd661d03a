export { SandboxStartError, SandboxSupervisor } from './supervisor.js';
export type {
  SandboxCrashInfo,
  SandboxErrorCode,
  SandboxFailure,
  SandboxInvocation,
  SandboxLimits,
  SandboxLogLevel,
  SandboxLogLine,
  SandboxOptions,
  SandboxResult,
  SandboxStats,
} from './types.js';
