/**
 * What every resolver receives: the request (tenant and role, from the token only) and the
 * domain services. Its own module, so the base resolvers and the feature API modules both
 * import it without importing each other.
 */
import type { RequestContext } from '../auth/roles.js';
import type { TokenService } from '../auth/tokens.js';
import type { AuditExportService } from '../audit/export.js';
import type { TenantService } from '../tenants/tenants.js';
import type { WorkflowService } from '../workflows/workflows.js';
import type { PluginService } from '../plugins/plugins.js';
import type { CredentialService } from '../credentials/credentials.js';
import type { IntegrationGuardService } from '../integrationGuards/integrationGuards.js';
import type { RunService } from '../runs/runs.js';
import type { Database } from '../db/database.js';
import type { RunEventStream } from './runEventStream.js';
import type { WebhookTriggerService } from '../triggers/webhooks.js';
import type { ScheduleService } from '../triggers/schedules.js';

export interface GraphQLContext {
  request: RequestContext;
  services: Services;
  /** Aborted when the client goes away (a subscription then stops listening). */
  signal?: AbortSignal;
}

export interface Services {
  db: Database;
  tokens: TokenService;
  tenants: TenantService;
  workflows: WorkflowService;
  runs: RunService;
  plugins: PluginService;
  credentials: CredentialService;
  integrationGuards: IntegrationGuardService;
  runEvents: RunEventStream;
  auditExports: AuditExportService;
  webhooks: WebhookTriggerService;
  schedules: ScheduleService;
}
