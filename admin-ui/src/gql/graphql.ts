/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** A decision on a waiting approval step. */
export type ApproveStepInput = {
  /** true: the step SUCCEEDED with output { approved, comment, by } and the run goes on. false: the step FAILED with APPROVAL_REJECTED (never retried), which fails the run unless the step has onError continue. */
  approved: boolean;
  /** Up to 2000 characters, kept in the step's output, or in its failure message when rejected. */
  comment?: string | null | undefined;
  /** The run; NOT_FOUND for an unknown or another tenant's run. */
  runId: string | number;
  /** The approval step's id in the run; NOT_FOUND when the run has no such step. */
  stepId: string | number;
};

/** What exportAuditReport exports (AUDITOR, ADMIN or SYSTEM_ADMIN); the export is recorded in the chain (audit.exported) before any event is read. */
export type AuditExportInput = {
  /** Only these actions' contents, at most 100 names such as run.started; the other events' links stay in the bundle, marked omitted, so the chain still verifies. Omitted or empty: every action. */
  actions?: Array<string> | null | undefined;
  /** Events at or after this time; omitted: from the chain's first remaining event. */
  from?: string | null | undefined;
  /** SYSTEM_ADMIN only: export this tenant's chain (omitted: the appliance's own). Tenant tokens always export their own; naming another tenant is NOT_FOUND. */
  tenantId?: string | number | null | undefined;
  /** Events before this time, which must be after from (BAD_USER_INPUT otherwise); omitted: up to and including this export's own record. */
  to?: string | null | undefined;
};

/** Which of a chain's audit events to read; every condition given must hold. */
export type AuditFilter = {
  /** Only events with exactly this action name, such as token.created. */
  action?: string | null | undefined;
  /** Only events at or after this time. */
  from?: string | null | undefined;
  /** SYSTEM_ADMIN only: read this tenant's chain (omitted: the appliance's own events). Tenant tokens always read their own tenant's; naming another tenant is NOT_FOUND. */
  tenantId?: string | number | null | undefined;
  /** Only events before this time. */
  to?: string | null | undefined;
};

/** Where a step's compensation stands. A failed run's compensations run one at a time, in their order. */
export type CompensationStatus =
  /** Unsettled when the run was cancelled or timed out during compensation. */
  | 'CANCELLED'
  /** Failed for good; the run's other compensations still run. */
  | 'FAILED'
  /** Waiting for its turn, or for a retry after a failed attempt. */
  | 'PENDING'
  /** An attempt of the compensating action is executing. */
  | 'RUNNING'
  /** The step's effect was undone. */
  | 'SUCCEEDED';

/** A new API token (createApiToken: ADMIN for its own tenant, or SYSTEM_ADMIN); audited as token.created. */
export type CreateApiTokenInput = {
  /** Lifetime in seconds, from 60 to 157680000 (5 years); omitted or null: the token never expires. */
  expiresInSeconds?: number | null | undefined;
  /** A label for people, 1 to 200 characters after trimming. */
  name: string;
  /** The token's role; only a SYSTEM_ADMIN may create SYSTEM_ADMIN tokens (FORBIDDEN otherwise). */
  role: Role;
  /** The tenant the token belongs to. A SYSTEM_ADMIN must give it for tenant roles and omit it for SYSTEM_ADMIN tokens; an ADMIN may omit it or give its own tenant (another is NOT_FOUND). */
  tenantId?: string | number | null | undefined;
};

/** Settings of a new schedule; unless created paused, it first fires at the first slot after now. */
export type CreateScheduleInput = {
  /** How many due slots BACKFILL fires at most after downtime: 1 to 1000, default 10. */
  backfillLimit?: number | null | undefined;
  /** What to do with slots missed while no engine ran; default SKIP. */
  catchUp?: ScheduleCatchUp | null | undefined;
  /** A five-field cron expression, like "30 2 * * 1-5" (02:30 on weekdays); a sixth (seconds) field is refused, so a schedule fires at most once a minute. */
  cron: string;
  /** The run input, a JSON value of at most SWITCHYARD_MAX_INPUT_BYTES (default 256 KiB) whose templates read only schedule.id, schedule.name, schedule.slot and schedule.timeZone; omitted or null: {}. */
  input?: unknown;
  /** 1 to 100 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit; unique among the workflow's schedules (CONFLICT otherwise). */
  name: string;
  /** True: created paused, nothing fires until resumeSchedule; default false. */
  paused?: boolean | null | undefined;
  /** IANA time zone the cron is read in, like Europe/Berlin, America/New_York or UTC; required, there is no default. */
  timeZone: string;
  /** A workflow version to pin, which must exist (BAD_USER_INPUT otherwise); omitted or null: the latest version at each slot. */
  version?: number | null | undefined;
  /** The tenant's workflow to run (NOT_FOUND if unknown). */
  workflowId: string | number;
};

/** Settings of a new webhook trigger; omitted optional fields take the defaults given on each field. */
export type CreateWebhookTriggerInput = {
  /** At most 100 IPv4 or IPv6 addresses or CIDR ranges (like 10.0.0.0/8); omitted or empty: any source. */
  allowedSources?: Array<string> | null | undefined;
  /** Header that carries the delivery id, stored lower-case: letters, digits and "-", at most 64, not authorization, proxy-authorization, cookie or switchyard-signature. Default x-delivery-id. */
  deliveryIdHeader?: string | null | undefined;
  /** Default true; false makes the URL answer 404 until the trigger is enabled. */
  enabled?: boolean | null | undefined;
  /** JSON template of at most 16 KiB that reads only body, headers and query, like { order: "{{ body.order.id }}" }; omitted or null: the JSON body is the run input. */
  inputMapping?: unknown;
  /** Largest accepted body in bytes, from 1 to SWITCHYARD_MAX_BODY_BYTES (default 1 MiB); default 262144 (256 KiB), or that cap if lower. */
  maxBodyBytes?: number | null | undefined;
  /** 1 to 100 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit; unique among the workflow's webhook triggers (CONFLICT otherwise). */
  name: string;
  /** Seconds a signed timestamp may be from the appliance's clock: 1 to 3600, default 300. */
  replayWindowSeconds?: number | null | undefined;
  /** A workflow version to pin, which must exist (BAD_USER_INPUT otherwise); omitted or null: the latest version when each delivery arrives. */
  version?: number | null | undefined;
  /** The tenant's workflow the deliveries start (NOT_FOUND if unknown). */
  workflowId: string | number;
};

/** A new workflow and its first definition. */
export type CreateWorkflowInput = {
  /** The definition: an object with steps (each with id, uses and optionally with, needs, if, retry, timeoutMs, onError, credential, compensate) and optionally timeoutMs, output and description. At most 256 KiB and 200 steps by default; BAD_USER_INPUT lists every problem found. */
  definition: unknown;
  /** 1 to 200 characters (trimmed), unique within the tenant (CONFLICT otherwise). */
  name: string;
};

/** Why the appliance trusts an installed plugin version. */
export type PluginTrust =
  /** Ships with the appliance: installed at start without a signature, its name is reserved and it cannot be removed. */
  | 'CORE'
  /** Signed by a publisher whose certificate chains to a CA in the appliance's trust store (SWITCHYARD_PLUGIN_TRUST_STORE). */
  | 'SIGNED'
  /** Installed without a signature because the appliance allows it (SWITCHYARD_ALLOW_UNSIGNED_PLUGINS, a development switch); each such install is audited as plugin.unsigned_override_used. */
  | 'UNSIGNED';

/** A new version of an existing workflow. */
export type PublishWorkflowVersionInput = {
  /** The new definition, validated and quota-checked like createWorkflow's. */
  definition: unknown;
  /** The workflow; NOT_FOUND for an unknown or another tenant's workflow. */
  workflowId: string | number;
};

/** What an API token may do; a token has exactly one role, fixed when it is created. */
export type Role =
  /** Everything in its tenant: workflows, triggers, runs, credentials, API tokens, integration guards and the audit log; reads plugins. */
  | 'ADMIN'
  /** Reads and exports its tenant's audit log (and reads the audit signing certificate); nothing else. */
  | 'AUDITOR'
  /** Writes workflows, their webhook triggers and schedules, and credentials; reads runs and plugins, but cannot start or operate runs. */
  | 'EDITOR'
  /** Reads workflows, runs and plugins, and operates runs: start, cancel, retry, approve steps, pause and resume schedules. */
  | 'OPERATOR'
  /** Appliance-wide, in no tenant: tenants, quotas, audit retention, all API tokens, plugins and any audit chain; no tenant's runs or data. */
  | 'SYSTEM_ADMIN'
  /** Reads workflows, runs, credential metadata, integration guards and plugins; changes nothing. */
  | 'VIEWER';

/** Which trigger gets a new signing secret, and how long its current one keeps working. */
export type RotateWebhookTriggerSecretInput = {
  /** The trigger whose secret is replaced. */
  id: string | number;
  /** Seconds the current secret keeps verifying deliveries next to the new one: 0 (default) revokes it at once, at most 604800 (7 days). Only one previous secret is kept: an older one still in its grace period stops at once. */
  previousSecretValidSeconds?: number | null | undefined;
};

/** Conditions on runs; every one given must hold. */
export type RunFilter = {
  /** Only runs started strictly after this time. */
  createdAfter?: string | null | undefined;
  /** Only runs started strictly before this time. */
  createdBefore?: string | null | undefined;
  /** Only runs now in this status. */
  status?: RunStatus | null | undefined;
  /** Only runs of this workflow, any version; NOT_FOUND for an unknown or another tenant's workflow. */
  workflowId?: string | number | null | undefined;
};

/** What started a run. */
export type RunOriginKind =
  /** startRun, with an API token. */
  | 'API'
  /** A schedule's slot. */
  | 'SCHEDULE'
  /** A delivery to a webhook trigger. */
  | 'WEBHOOK';

/** Where a run stands. SUCCEEDED, FAILED, CANCELLED and TIMED_OUT are final, except that retryRun takes a FAILED, CANCELLED or TIMED_OUT run back to QUEUED. */
export type RunStatus =
  /** Cancelled by cancelRun: its unsettled steps and compensations were cancelled and nothing more was compensated. */
  | 'CANCELLED'
  /** A step failed for good without onError continue, and the compensations of its succeeded steps, if any, have settled; error says which step. */
  | 'FAILED'
  /** Started (or retried), and none of its steps has begun an attempt yet. */
  | 'QUEUED'
  /** Steps are executing or queued; also while a failed run's compensations run, with error already set. */
  | 'RUNNING'
  /** Every step settled without failing the run (steps may be SKIPPED, or FAILED with onError continue); output is set. */
  | 'SUCCEEDED'
  /** Still unfinished at its deadlineAt: its unsettled steps and compensations were cancelled. */
  | 'TIMED_OUT'
  /** Nothing can progress without outside input: no step is running or queued, and at least one waits on a core/delay@1 timer or a core/approval@1 decision. Holds no worker. */
  | 'WAITING';

/** What a schedule does with slots missed while no engine ran; a slot noticed within 60 s of its time is on time and fires either way. */
export type ScheduleCatchUp =
  /** Fire the latest backfillLimit due slots, oldest first, and skip older ones. */
  | 'BACKFILL'
  /** Fire none of the missed slots (the default). */
  | 'SKIP';

/** A tenant's audit retention and legal hold (setAuditRetention, SYSTEM_ADMIN only); the change is audited in the tenant's chain with the values before and after. */
export type SetAuditRetentionInput = {
  /** true stops the retention job for this tenant, false lets it resume; omitted or null: unchanged. */
  legalHold?: boolean | null | undefined;
  /** Days to keep audit events, a whole number from 1 to 36500; omitted or null: unchanged. */
  retentionDays?: number | null | undefined;
  /** The tenant to change; an unknown id is NOT_FOUND. */
  tenantId: string | number;
};

/** A credential to create, or to replace entirely (type, secret, config and hosts) when the name exists. By type: bearer { token } | basic { username password } | header { token } + config { headerName } | query { token } + config { paramName } | openai { token } + config { baseUrl } */
export type SetCredentialInput = {
  /** 1 to 50 lowercase hosts or host:port the secret may be sent to; "*.example.com" matches subdomains only and "*" is refused. Without a port, only the scheme's default port. */
  allowedHosts: Array<string>;
  /** The type's non-secret settings, strings of 1 to 2048 characters: headerName (like X-Api-Key; not Host, Authorization, Cookie or a hop-by-hop header), paramName (like api_key) or baseUrl (an http(s) API root such as https://api.openai.com/v1). Omit for bearer and basic. */
  config?: unknown;
  /** 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit; a name the tenant already has is replaced. */
  name: string;
  /** Write-only: an object with exactly the type's secret fields (token, or username and password), each a string of 1 to 16384 characters. It is stored encrypted and never echoed, not even in errors. */
  secret: unknown;
  /** bearer, basic, header, query or openai; any other is BAD_USER_INPUT. */
  type: string;
};

/** The quotas to change for a tenant (setTenantQuota, SYSTEM_ADMIN only; audited as tenant.quota_changed). Each value is a whole number from 0 to 2000000000; an omitted or null field stays as it is, so a quota once set cannot be cleared back to no limit. */
export type SetTenantQuotaInput = {
  /** Most active (QUEUED, RUNNING or WAITING) runs at once; omitted or null: unchanged. */
  maxConcurrentRuns?: number | null | undefined;
  /** Largest run input, in bytes of its JSON; omitted or null: unchanged. */
  maxInputBytes?: number | null | undefined;
  /** Longest run, in seconds; omitted or null: unchanged. */
  maxRunDurationSeconds?: number | null | undefined;
  /** Most run starts per UTC day; omitted or null: unchanged. */
  maxRunsPerDay?: number | null | undefined;
  /** Most steps in a workflow definition, checked when one is created or published; omitted or null: unchanged. */
  maxStepsPerWorkflow?: number | null | undefined;
  /** Sandbox CPU milliseconds per UTC day for the tenant's plugin steps; omitted or null: unchanged. */
  sandboxCpuMsPerDay?: number | null | undefined;
  /** The tenant to change; an unknown id is NOT_FOUND. */
  tenantId: string | number;
};

/** What startRun starts. */
export type StartRunInput = {
  /** 1 to 200 characters. Starting the same workflow again with a key already used answers the run that key started, whatever its version, input or status, and starts nothing. */
  idempotencyKey?: string | null | undefined;
  /** The run's input, read by templates as input; omitted or null: {}. At most 262144 bytes of JSON by default (SWITCHYARD_MAX_INPUT_BYTES; BAD_USER_INPUT), and the tenant's maxInputBytes (QUOTA_EXCEEDED). */
  input?: unknown;
  /** The version number to run; omitted: the latest. NOT_FOUND when the workflow has no such version. */
  version?: number | null | undefined;
  /** The workflow to run; NOT_FOUND for an unknown or another tenant's workflow. */
  workflowId: string | number;
};

/** Where a step of a run stands. SUCCEEDED, FAILED, SKIPPED and CANCELLED are settled; retryRun sets FAILED and CANCELLED steps back to PENDING. */
export type StepStatus =
  /** Unsettled when its run was cancelled, timed out or failed for good; one cancelled while RUNNING may still have had its effect. */
  | 'CANCELLED'
  /** Failed for good (its attempts used up, or a failure no retry can help); error says why. */
  | 'FAILED'
  /** Not running: waiting for its needs or a worker, for a retry after a failed attempt (error holds that failure), or put back by a shutdown or an integration guard. */
  | 'PENDING'
  /** An attempt is executing. */
  | 'RUNNING'
  /** Not run: its if condition evaluated falsy. */
  | 'SKIPPED'
  /** Done; output holds its result. */
  | 'SUCCEEDED'
  /** Parked on a core/delay@1 timer or a core/approval@1 decision, holding no worker. */
  | 'WAITING';

/** Changes to a webhook trigger; omitted fields are unchanged. version: null follows the latest version and inputMapping: null makes the JSON body the input; leave other fields out rather than sending null. */
export type UpdateWebhookTriggerInput = {
  /** Replaces the list: at most 100 IP addresses or CIDR ranges; empty: any source. */
  allowedSources?: Array<string> | null | undefined;
  /** Header that carries the delivery id, with the rules of CreateWebhookTriggerInput.deliveryIdHeader. */
  deliveryIdHeader?: string | null | undefined;
  /** False: the URL answers 404 TRIGGER_NOT_FOUND until the trigger is enabled again. */
  enabled?: boolean | null | undefined;
  /** The trigger to change. */
  id: string | number;
  /** A new JSON template over body, headers and query (at most 16 KiB), or null to make the JSON body the run input. */
  inputMapping?: unknown;
  /** Largest accepted body in bytes, from 1 to SWITCHYARD_MAX_BODY_BYTES. */
  maxBodyBytes?: number | null | undefined;
  /** A new name, with the rules of CreateWebhookTriggerInput.name (CONFLICT if the workflow has a trigger of that name). */
  name?: string | null | undefined;
  /** Seconds a signed timestamp may be from the appliance's clock: 1 to 3600. */
  replayWindowSeconds?: number | null | undefined;
  /** A workflow version to pin, which must exist, or null to follow the latest version. */
  version?: number | null | undefined;
};

export type ApiTokenListFieldsFragment = { id: string, name: string, role: Role, prefix: string, createdAt: string, expiresAt: string | null, revokedAt: string | null, lastUsedAt: string | null };

export type ApiTokenListTokensQueryVariables = Exact<{
  t?: string | number | null | undefined;
  after?: string | null | undefined;
}>;


export type ApiTokenListTokensQuery = { apiTokens: { nodes: Array<{ id: string, name: string, role: Role, prefix: string, createdAt: string, expiresAt: string | null, revokedAt: string | null, lastUsedAt: string | null }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type ApiTokenListCreateMutationVariables = Exact<{
  i: CreateApiTokenInput;
}>;


export type ApiTokenListCreateMutation = { createApiToken: { token: string, apiToken: { id: string, name: string, role: Role, prefix: string, createdAt: string, expiresAt: string | null, revokedAt: string | null, lastUsedAt: string | null } } };

export type ApiTokenListRevokeMutationVariables = Exact<{
  id: string | number;
}>;


export type ApiTokenListRevokeMutation = { revokeApiToken: { id: string, name: string, role: Role, prefix: string, createdAt: string, expiresAt: string | null, revokedAt: string | null, lastUsedAt: string | null } };

export type AuditLogEventsQueryVariables = Exact<{
  f?: AuditFilter | null | undefined;
  after?: string | null | undefined;
}>;


export type AuditLogEventsQuery = { auditEvents: { nodes: Array<{ seq: number, at: string, actorName: string, actorRole: string, action: string, targetType: string, targetId: string | null, outcome: string, reason: string | null, details: unknown }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type AuditLogCertificateQueryVariables = Exact<{ [key: string]: never; }>;


export type AuditLogCertificateQuery = { auditSigningCertificate: { fingerprint: string } };

export type AuditLogTenantsQueryVariables = Exact<{ [key: string]: never; }>;


export type AuditLogTenantsQuery = { tenants: { nodes: Array<{ id: string, name: string }> } };

export type AuditLogExportMutationVariables = Exact<{
  i: AuditExportInput;
}>;


export type AuditLogExportMutation = { exportAuditReport: { id: string, downloadUrl: string, sha256: string, bytes: number, eventCount: number, firstSeq: number | null, lastSeq: number | null, verified: boolean, verificationProblem: string | null, createdAt: string, expiresAt: string } };

export type CredentialsFieldsFragment = { id: string, name: string, type: string, config: unknown, allowedHosts: Array<string>, createdAt: string, updatedAt: string };

export type CredentialsListQueryVariables = Exact<{ [key: string]: never; }>;


export type CredentialsListQuery = { credentials: Array<{ id: string, name: string, type: string, config: unknown, allowedHosts: Array<string>, createdAt: string, updatedAt: string }> };

export type CredentialsSetMutationVariables = Exact<{
  input: SetCredentialInput;
}>;


export type CredentialsSetMutation = { setCredential: { id: string, name: string, type: string, config: unknown, allowedHosts: Array<string>, createdAt: string, updatedAt: string } };

export type CredentialsDeleteMutationVariables = Exact<{
  name: string;
}>;


export type CredentialsDeleteMutation = { deleteCredential: { id: string, name: string, type: string, config: unknown, allowedHosts: Array<string>, createdAt: string, updatedAt: string } };

export type OverviewQueryVariables = Exact<{ [key: string]: never; }>;


export type OverviewQuery = { runOverview: { startedLastHour: number, failedLastHour: number, queued: number, running: number, waiting: number, queueDepth: number, waitingApprovals: number, openCircuitBreakers: number, runsPerMinute: Array<{ minute: string, started: number, failed: number }> }, pendingApprovals: Array<{ stepId: string, since: string, until: string | null, run: { id: string, workflowVersion: { version: number, workflow: { id: string, name: string } } } }> };

export type PluginsPermissionsFragment = { hosts: Array<string>, credentialTypes: Array<string>, rawSecretAccess: boolean };

export type PluginsResourcesFragment = { memoryMb: number | null, timeoutMs: number | null, cpuMs: number | null, maxRequests: number | null, maxResponseBytes: number | null };

export type PluginsActionFragment = { name: string, description: string, uses: string };

export type PluginsListQueryVariables = Exact<{ [key: string]: never; }>;


export type PluginsListQuery = { plugins: Array<{ id: string, name: string, version: string, publisher: string, trust: PluginTrust, publisherFingerprint: string | null, certificateNotAfter: string | null, installedAt: string, minApplianceVersion: string, packageSha256: string, permissions: { hosts: Array<string>, credentialTypes: Array<string>, rawSecretAccess: boolean }, resources: { memoryMb: number | null, timeoutMs: number | null, cpuMs: number | null, maxRequests: number | null, maxResponseBytes: number | null }, actions: Array<{ name: string, description: string, uses: string }>, policy: { allowedHosts: Array<string>, allowedPrivate: Array<string>, rawSecretAccessApproved: boolean } | null }> };

export type PluginsVerifyQueryVariables = Exact<{
  bundle: string;
}>;


export type PluginsVerifyQuery = { verifyPluginPackage: { ok: boolean, refusal: string | null, reason: string | null, name: string | null, version: string | null, publisher: string | null, trust: PluginTrust | null, publisherFingerprint: string | null, certificateNotAfter: string | null, minApplianceVersion: string | null, packageSha256: string | null, permissions: { hosts: Array<string>, credentialTypes: Array<string>, rawSecretAccess: boolean } | null, resources: { memoryMb: number | null, timeoutMs: number | null, cpuMs: number | null, maxRequests: number | null, maxResponseBytes: number | null } | null, actions: Array<{ name: string, description: string, uses: string }> | null, installed: { id: string, installedAt: string, trust: PluginTrust } | null } };

export type PluginsInstallMutationVariables = Exact<{
  bundle: string;
}>;


export type PluginsInstallMutation = { installPlugin: { id: string, name: string, version: string, trust: PluginTrust } };

export type RunFailureFieldsFragment = { code: string, message: string, retryable: boolean, meaning: string | null };

export type RunDetailQueryVariables = Exact<{
  id: string | number;
}>;


export type RunDetailQuery = { run: { id: string, status: RunStatus, input: unknown, output: unknown, createdAt: string, finishedAt: string | null, deadlineAt: string, idempotencyKey: string | null, error: { code: string, message: string, retryable: boolean, meaning: string | null } | null, origin: { kind: RunOriginKind, tokenId: string | null, webhookTriggerId: string | null, deliveryId: string | null, scheduleId: string | null, slot: string | null }, workflowVersion: { id: string, version: number, definition: unknown, workflow: { id: string, name: string } }, steps: Array<{ stepId: string, status: StepStatus, attempts: number, input: unknown, output: unknown, startedAt: string | null, finishedAt: string | null, error: { code: string, message: string, retryable: boolean, meaning: string | null } | null, compensation: { status: CompensationStatus, order: number, attempts: number, output: unknown, startedAt: string | null, finishedAt: string | null, idempotencyKey: string, error: { code: string, message: string, retryable: boolean, meaning: string | null } | null } | null }> } | null };

export type RunEventsPageQueryVariables = Exact<{
  id: string | number;
  a?: string | null | undefined;
}>;


export type RunEventsPageQuery = { run: { events: { nodes: Array<{ seq: number, type: string, stepId: string | null, at: string, data: unknown }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } } | null };

export type RunEventsLiveSubscriptionVariables = Exact<{
  r: string | number;
  a?: number | null | undefined;
}>;


export type RunEventsLiveSubscription = { runEvents: { seq: number, type: string, stepId: string | null, at: string, data: unknown } };

export type RunCancelMutationVariables = Exact<{
  id: string | number;
}>;


export type RunCancelMutation = { cancelRun: { id: string, status: RunStatus } };

export type RunRetryMutationVariables = Exact<{
  id: string | number;
}>;


export type RunRetryMutation = { retryRun: { id: string, status: RunStatus } };

export type RunApproveMutationVariables = Exact<{
  i: ApproveStepInput;
}>;


export type RunApproveMutation = { approveStep: { id: string, status: RunStatus } };

export type RunListRunsQueryVariables = Exact<{
  f?: RunFilter | null | undefined;
  n?: number | null | undefined;
  a?: string | null | undefined;
}>;


export type RunListRunsQuery = { runs: { nodes: Array<{ id: string, status: RunStatus, createdAt: string, finishedAt: string | null, workflowVersion: { version: number, workflow: { id: string, name: string } } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type RunListWorkflowsQueryVariables = Exact<{
  a?: string | null | undefined;
}>;


export type RunListWorkflowsQuery = { workflows: { nodes: Array<{ id: string, name: string }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type SignInViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type SignInViewerQuery = { viewer: { role: Role, permissions: Array<string>, tenant: { id: string, name: string } | null, token: { id: string, name: string, expiresAt: string | null } } };

export type TenantAdminTenantFieldsFragment = { id: string, name: string, createdAt: string, auditRetentionDays: number, auditLegalHold: boolean, quota: { maxConcurrentRuns: number | null, maxRunsPerDay: number | null, maxStepsPerWorkflow: number | null, maxRunDurationSeconds: number | null, maxInputBytes: number | null, sandboxCpuMsPerDay: number | null } };

export type TenantAdminTenantsQueryVariables = Exact<{
  after?: string | null | undefined;
}>;


export type TenantAdminTenantsQuery = { tenants: { nodes: Array<{ id: string, name: string, createdAt: string, auditRetentionDays: number, auditLegalHold: boolean, quota: { maxConcurrentRuns: number | null, maxRunsPerDay: number | null, maxStepsPerWorkflow: number | null, maxRunDurationSeconds: number | null, maxInputBytes: number | null, sandboxCpuMsPerDay: number | null } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type TenantAdminCreateMutationVariables = Exact<{
  n: string;
}>;


export type TenantAdminCreateMutation = { createTenant: { id: string, name: string, createdAt: string, auditRetentionDays: number, auditLegalHold: boolean, quota: { maxConcurrentRuns: number | null, maxRunsPerDay: number | null, maxStepsPerWorkflow: number | null, maxRunDurationSeconds: number | null, maxInputBytes: number | null, sandboxCpuMsPerDay: number | null } } };

export type TenantAdminSetQuotaMutationVariables = Exact<{
  i: SetTenantQuotaInput;
}>;


export type TenantAdminSetQuotaMutation = { setTenantQuota: { id: string, name: string, createdAt: string, auditRetentionDays: number, auditLegalHold: boolean, quota: { maxConcurrentRuns: number | null, maxRunsPerDay: number | null, maxStepsPerWorkflow: number | null, maxRunDurationSeconds: number | null, maxInputBytes: number | null, sandboxCpuMsPerDay: number | null } } };

export type TenantAdminSetRetentionMutationVariables = Exact<{
  i: SetAuditRetentionInput;
}>;


export type TenantAdminSetRetentionMutation = { setAuditRetention: { id: string, name: string, createdAt: string, auditRetentionDays: number, auditLegalHold: boolean, quota: { maxConcurrentRuns: number | null, maxRunsPerDay: number | null, maxStepsPerWorkflow: number | null, maxRunDurationSeconds: number | null, maxInputBytes: number | null, sandboxCpuMsPerDay: number | null } } };

export type TriggersOfWorkflowQueryVariables = Exact<{
  w: string | number;
}>;


export type TriggersOfWorkflowQuery = { workflow: { webhookTriggers: Array<{ id: string, name: string, url: string, version: number | null, enabled: boolean, allowedSources: Array<string>, deliveryIdHeader: string, createdAt: string, previousSecretExpiresAt: string | null }>, schedules: Array<{ id: string, name: string, cron: string, timeZone: string, version: number | null, paused: boolean, catchUp: ScheduleCatchUp, nextFireTimes: Array<string>, lastFiredSlot: string | null, skippedSlots: number, lastError: unknown }> } | null };

export type TriggersCreateWebhookMutationVariables = Exact<{
  i: CreateWebhookTriggerInput;
}>;


export type TriggersCreateWebhookMutation = { createWebhookTrigger: { secret: string, trigger: { id: string, url: string } } };

export type TriggersUpdateWebhookMutationVariables = Exact<{
  i: UpdateWebhookTriggerInput;
}>;


export type TriggersUpdateWebhookMutation = { updateWebhookTrigger: { id: string } };

export type TriggersRotateWebhookSecretMutationVariables = Exact<{
  i: RotateWebhookTriggerSecretInput;
}>;


export type TriggersRotateWebhookSecretMutation = { rotateWebhookTriggerSecret: { secret: string, trigger: { id: string, url: string } } };

export type TriggersDeleteWebhookMutationVariables = Exact<{
  id: string | number;
}>;


export type TriggersDeleteWebhookMutation = { deleteWebhookTrigger: { id: string } };

export type TriggersCreateScheduleMutationVariables = Exact<{
  i: CreateScheduleInput;
}>;


export type TriggersCreateScheduleMutation = { createSchedule: { id: string } };

export type TriggersPauseScheduleMutationVariables = Exact<{
  id: string | number;
}>;


export type TriggersPauseScheduleMutation = { pauseSchedule: { id: string } };

export type TriggersResumeScheduleMutationVariables = Exact<{
  id: string | number;
}>;


export type TriggersResumeScheduleMutation = { resumeSchedule: { id: string } };

export type TriggersDeleteScheduleMutationVariables = Exact<{
  id: string | number;
}>;


export type TriggersDeleteScheduleMutation = { deleteSchedule: { id: string } };

export type WorkflowDetailQueryVariables = Exact<{
  id: string | number;
}>;


export type WorkflowDetailQuery = { workflow: { id: string, name: string, createdAt: string, latestVersion: { version: number, definition: unknown }, versions: Array<{ version: number, createdAt: string }> } | null };

export type WorkflowVersionDefinitionQueryVariables = Exact<{
  id: string | number;
  v: number;
}>;


export type WorkflowVersionDefinitionQuery = { workflow: { version: { version: number, definition: unknown } | null } | null };

export type WorkflowPublishVersionMutationVariables = Exact<{
  i: PublishWorkflowVersionInput;
}>;


export type WorkflowPublishVersionMutation = { publishWorkflowVersion: { version: number } };

export type WorkflowStartRunMutationVariables = Exact<{
  i: StartRunInput;
}>;


export type WorkflowStartRunMutation = { startRun: { id: string } };

export type WorkflowsListQueryVariables = Exact<{
  n?: number | null | undefined;
  a?: string | null | undefined;
}>;


export type WorkflowsListQuery = { workflows: { nodes: Array<{ id: string, name: string, createdAt: string, latestVersion: { version: number, createdAt: string } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type WorkflowsCreateMutationVariables = Exact<{
  i: CreateWorkflowInput;
}>;


export type WorkflowsCreateMutation = { createWorkflow: { id: string } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const ApiTokenListFieldsFragmentDoc = new TypedDocumentString(`
    fragment ApiTokenListFields on ApiToken {
  id
  name
  role
  prefix
  createdAt
  expiresAt
  revokedAt
  lastUsedAt
}
    `, {"fragmentName":"ApiTokenListFields"}) as unknown as TypedDocumentString<ApiTokenListFieldsFragment, unknown>;
export const CredentialsFieldsFragmentDoc = new TypedDocumentString(`
    fragment CredentialsFields on Credential {
  id
  name
  type
  config
  allowedHosts
  createdAt
  updatedAt
}
    `, {"fragmentName":"CredentialsFields"}) as unknown as TypedDocumentString<CredentialsFieldsFragment, unknown>;
export const PluginsPermissionsFragmentDoc = new TypedDocumentString(`
    fragment PluginsPermissions on PluginPermissions {
  hosts
  credentialTypes
  rawSecretAccess
}
    `, {"fragmentName":"PluginsPermissions"}) as unknown as TypedDocumentString<PluginsPermissionsFragment, unknown>;
export const PluginsResourcesFragmentDoc = new TypedDocumentString(`
    fragment PluginsResources on PluginResources {
  memoryMb
  timeoutMs
  cpuMs
  maxRequests
  maxResponseBytes
}
    `, {"fragmentName":"PluginsResources"}) as unknown as TypedDocumentString<PluginsResourcesFragment, unknown>;
export const PluginsActionFragmentDoc = new TypedDocumentString(`
    fragment PluginsAction on PluginAction {
  name
  description
  uses
}
    `, {"fragmentName":"PluginsAction"}) as unknown as TypedDocumentString<PluginsActionFragment, unknown>;
export const RunFailureFieldsFragmentDoc = new TypedDocumentString(`
    fragment RunFailureFields on StepFailure {
  code
  message
  retryable
  meaning
}
    `, {"fragmentName":"RunFailureFields"}) as unknown as TypedDocumentString<RunFailureFieldsFragment, unknown>;
export const TenantAdminTenantFieldsFragmentDoc = new TypedDocumentString(`
    fragment TenantAdminTenantFields on Tenant {
  id
  name
  createdAt
  quota {
    maxConcurrentRuns
    maxRunsPerDay
    maxStepsPerWorkflow
    maxRunDurationSeconds
    maxInputBytes
    sandboxCpuMsPerDay
  }
  auditRetentionDays
  auditLegalHold
}
    `, {"fragmentName":"TenantAdminTenantFields"}) as unknown as TypedDocumentString<TenantAdminTenantFieldsFragment, unknown>;
export const ApiTokenListTokensDocument = new TypedDocumentString(`
    query ApiTokenListTokens($t: ID, $after: String) {
  apiTokens(tenantId: $t, first: 100, after: $after) {
    nodes {
      ...ApiTokenListFields
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment ApiTokenListFields on ApiToken {
  id
  name
  role
  prefix
  createdAt
  expiresAt
  revokedAt
  lastUsedAt
}`, {"hash":"078d642bc0a3eb538fc18879f25226bac7c84d010724a99e1489a1f33a18705f"}) as unknown as TypedDocumentString<ApiTokenListTokensQuery, ApiTokenListTokensQueryVariables>;
export const ApiTokenListCreateDocument = new TypedDocumentString(`
    mutation ApiTokenListCreate($i: CreateApiTokenInput!) {
  createApiToken(input: $i) {
    token
    apiToken {
      ...ApiTokenListFields
    }
  }
}
    fragment ApiTokenListFields on ApiToken {
  id
  name
  role
  prefix
  createdAt
  expiresAt
  revokedAt
  lastUsedAt
}`, {"hash":"9788f7217c0ad315ccea8c1bac7cef09d72500f25bc106d0b6fb6534e2fcf281"}) as unknown as TypedDocumentString<ApiTokenListCreateMutation, ApiTokenListCreateMutationVariables>;
export const ApiTokenListRevokeDocument = new TypedDocumentString(`
    mutation ApiTokenListRevoke($id: ID!) {
  revokeApiToken(id: $id) {
    ...ApiTokenListFields
  }
}
    fragment ApiTokenListFields on ApiToken {
  id
  name
  role
  prefix
  createdAt
  expiresAt
  revokedAt
  lastUsedAt
}`, {"hash":"c4a2f06e723d0ff2ad449ae73e5ccb5d694ebec9979e124e8fb3cf0cb3b8e2b0"}) as unknown as TypedDocumentString<ApiTokenListRevokeMutation, ApiTokenListRevokeMutationVariables>;
export const AuditLogEventsDocument = new TypedDocumentString(`
    query AuditLogEvents($f: AuditFilter, $after: String) {
  auditEvents(filter: $f, first: 50, after: $after) {
    nodes {
      seq
      at
      actorName
      actorRole
      action
      targetType
      targetId
      outcome
      reason
      details
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `, {"hash":"6d39d573453da11b441045940bbfb9a1841c7d71a28e8efc16932036ec00a8fb"}) as unknown as TypedDocumentString<AuditLogEventsQuery, AuditLogEventsQueryVariables>;
export const AuditLogCertificateDocument = new TypedDocumentString(`
    query AuditLogCertificate {
  auditSigningCertificate {
    fingerprint
  }
}
    `, {"hash":"c194c73c828168bb19f536058742ab5a4d3ba6359c5105ba16256d18cd72b8f8"}) as unknown as TypedDocumentString<AuditLogCertificateQuery, AuditLogCertificateQueryVariables>;
export const AuditLogTenantsDocument = new TypedDocumentString(`
    query AuditLogTenants {
  tenants(first: 100) {
    nodes {
      id
      name
    }
  }
}
    `, {"hash":"54fe420cf237d4b2c7204503c057945743bf0137a342e200920072d8332b2a32"}) as unknown as TypedDocumentString<AuditLogTenantsQuery, AuditLogTenantsQueryVariables>;
export const AuditLogExportDocument = new TypedDocumentString(`
    mutation AuditLogExport($i: AuditExportInput!) {
  exportAuditReport(input: $i) {
    id
    downloadUrl
    sha256
    bytes
    eventCount
    firstSeq
    lastSeq
    verified
    verificationProblem
    createdAt
    expiresAt
  }
}
    `, {"hash":"00791e18b4058a0ed465fdec48bd2b946377c494d233349e8aff738da715d70b"}) as unknown as TypedDocumentString<AuditLogExportMutation, AuditLogExportMutationVariables>;
export const CredentialsListDocument = new TypedDocumentString(`
    query CredentialsList {
  credentials {
    ...CredentialsFields
  }
}
    fragment CredentialsFields on Credential {
  id
  name
  type
  config
  allowedHosts
  createdAt
  updatedAt
}`, {"hash":"922f57f272530549fadeddd0d894fec331198cb0ad9125d0891e73fc82f343cf"}) as unknown as TypedDocumentString<CredentialsListQuery, CredentialsListQueryVariables>;
export const CredentialsSetDocument = new TypedDocumentString(`
    mutation CredentialsSet($input: SetCredentialInput!) {
  setCredential(input: $input) {
    ...CredentialsFields
  }
}
    fragment CredentialsFields on Credential {
  id
  name
  type
  config
  allowedHosts
  createdAt
  updatedAt
}`, {"hash":"be067877241bb13a603eee267029c4c74796347c2a22e10b03922a74ac9fb264"}) as unknown as TypedDocumentString<CredentialsSetMutation, CredentialsSetMutationVariables>;
export const CredentialsDeleteDocument = new TypedDocumentString(`
    mutation CredentialsDelete($name: String!) {
  deleteCredential(name: $name) {
    ...CredentialsFields
  }
}
    fragment CredentialsFields on Credential {
  id
  name
  type
  config
  allowedHosts
  createdAt
  updatedAt
}`, {"hash":"6e288fa2eeaf84ea5fbe0e94e466c4d8fc04ef4aa338d47e4746f3fbcdd69496"}) as unknown as TypedDocumentString<CredentialsDeleteMutation, CredentialsDeleteMutationVariables>;
export const OverviewDocument = new TypedDocumentString(`
    query Overview {
  runOverview {
    runsPerMinute {
      minute
      started
      failed
    }
    startedLastHour
    failedLastHour
    queued
    running
    waiting
    queueDepth
    waitingApprovals
    openCircuitBreakers
  }
  pendingApprovals(first: 20) {
    run {
      id
      workflowVersion {
        version
        workflow {
          id
          name
        }
      }
    }
    stepId
    since
    until
  }
}
    `, {"hash":"778ee5ba4db9bf7fb0f8d1d04a20f0591214564958952ffeef985703175a43fd"}) as unknown as TypedDocumentString<OverviewQuery, OverviewQueryVariables>;
export const PluginsListDocument = new TypedDocumentString(`
    query PluginsList {
  plugins {
    id
    name
    version
    publisher
    trust
    publisherFingerprint
    certificateNotAfter
    installedAt
    minApplianceVersion
    packageSha256
    permissions {
      ...PluginsPermissions
    }
    resources {
      ...PluginsResources
    }
    actions {
      ...PluginsAction
    }
    policy {
      allowedHosts
      allowedPrivate
      rawSecretAccessApproved
    }
  }
}
    fragment PluginsPermissions on PluginPermissions {
  hosts
  credentialTypes
  rawSecretAccess
}
fragment PluginsResources on PluginResources {
  memoryMb
  timeoutMs
  cpuMs
  maxRequests
  maxResponseBytes
}
fragment PluginsAction on PluginAction {
  name
  description
  uses
}`, {"hash":"47a1acbd73b146c000cd8e7772b9f0657dcee776a9b0ab6030f535dfacf5c7fc"}) as unknown as TypedDocumentString<PluginsListQuery, PluginsListQueryVariables>;
export const PluginsVerifyDocument = new TypedDocumentString(`
    query PluginsVerify($bundle: String!) {
  verifyPluginPackage(bundle: $bundle) {
    ok
    refusal
    reason
    name
    version
    publisher
    trust
    publisherFingerprint
    certificateNotAfter
    minApplianceVersion
    packageSha256
    permissions {
      ...PluginsPermissions
    }
    resources {
      ...PluginsResources
    }
    actions {
      ...PluginsAction
    }
    installed {
      id
      installedAt
      trust
    }
  }
}
    fragment PluginsPermissions on PluginPermissions {
  hosts
  credentialTypes
  rawSecretAccess
}
fragment PluginsResources on PluginResources {
  memoryMb
  timeoutMs
  cpuMs
  maxRequests
  maxResponseBytes
}
fragment PluginsAction on PluginAction {
  name
  description
  uses
}`, {"hash":"17f7c990e240150b70852cf80290b8cc8a5e58013db277f30de61173fcffe541"}) as unknown as TypedDocumentString<PluginsVerifyQuery, PluginsVerifyQueryVariables>;
export const PluginsInstallDocument = new TypedDocumentString(`
    mutation PluginsInstall($bundle: String!) {
  installPlugin(input: {bundle: $bundle}) {
    id
    name
    version
    trust
  }
}
    `, {"hash":"3f950cf0dd31c36779a06cdb87fa8d21daad069c2fa316fb440cd46ffaf400d8"}) as unknown as TypedDocumentString<PluginsInstallMutation, PluginsInstallMutationVariables>;
export const RunDetailDocument = new TypedDocumentString(`
    query RunDetail($id: ID!) {
  run(id: $id) {
    id
    status
    input
    output
    error {
      ...RunFailureFields
    }
    createdAt
    finishedAt
    deadlineAt
    idempotencyKey
    origin {
      kind
      tokenId
      webhookTriggerId
      deliveryId
      scheduleId
      slot
    }
    workflowVersion {
      id
      version
      definition
      workflow {
        id
        name
      }
    }
    steps {
      stepId
      status
      attempts
      input
      output
      error {
        ...RunFailureFields
      }
      startedAt
      finishedAt
      compensation {
        status
        order
        attempts
        output
        error {
          ...RunFailureFields
        }
        startedAt
        finishedAt
        idempotencyKey
      }
    }
  }
}
    fragment RunFailureFields on StepFailure {
  code
  message
  retryable
  meaning
}`, {"hash":"7e7a9e540cbce94027a8dfedaf30f3d118ce11c92522d4ae087bb94c4ba10a11"}) as unknown as TypedDocumentString<RunDetailQuery, RunDetailQueryVariables>;
export const RunEventsPageDocument = new TypedDocumentString(`
    query RunEventsPage($id: ID!, $a: String) {
  run(id: $id) {
    events(first: 100, after: $a) {
      nodes {
        seq
        type
        stepId
        at
        data
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
}
    `, {"hash":"10c1b9944243e6cae363c8286bcf15405ddd14375e3478e795e044fde5086dac"}) as unknown as TypedDocumentString<RunEventsPageQuery, RunEventsPageQueryVariables>;
export const RunEventsLiveDocument = new TypedDocumentString(`
    subscription RunEventsLive($r: ID!, $a: Int) {
  runEvents(runId: $r, afterSeq: $a) {
    seq
    type
    stepId
    at
    data
  }
}
    `, {"hash":"fff39ea70089e30a1fd6a4a180142b3696ac25269e7967bc337e5c9c6e57f84d"}) as unknown as TypedDocumentString<RunEventsLiveSubscription, RunEventsLiveSubscriptionVariables>;
export const RunCancelDocument = new TypedDocumentString(`
    mutation RunCancel($id: ID!) {
  cancelRun(id: $id) {
    id
    status
  }
}
    `, {"hash":"bffdb3c42d864d8308f614303abb9d3dfd88efab5518a69afb87538f478d133f"}) as unknown as TypedDocumentString<RunCancelMutation, RunCancelMutationVariables>;
export const RunRetryDocument = new TypedDocumentString(`
    mutation RunRetry($id: ID!) {
  retryRun(id: $id) {
    id
    status
  }
}
    `, {"hash":"e8d016b13f9e3bd9bdc51079f87a88572303afda2e1a3d1a901c2c0dc868ab59"}) as unknown as TypedDocumentString<RunRetryMutation, RunRetryMutationVariables>;
export const RunApproveDocument = new TypedDocumentString(`
    mutation RunApprove($i: ApproveStepInput!) {
  approveStep(input: $i) {
    id
    status
  }
}
    `, {"hash":"647c1d5bae7f81d9dc71ab635ca5dec3c8871082c7b7affe3c8fb34fe97e007e"}) as unknown as TypedDocumentString<RunApproveMutation, RunApproveMutationVariables>;
export const RunListRunsDocument = new TypedDocumentString(`
    query RunListRuns($f: RunFilter, $n: Int, $a: String) {
  runs(filter: $f, first: $n, after: $a) {
    nodes {
      id
      status
      createdAt
      finishedAt
      workflowVersion {
        version
        workflow {
          id
          name
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `, {"hash":"35f02e670cd6c9ce91f954a36b979791a2a04b64306a94b7a3572ba4e8d01e1f"}) as unknown as TypedDocumentString<RunListRunsQuery, RunListRunsQueryVariables>;
export const RunListWorkflowsDocument = new TypedDocumentString(`
    query RunListWorkflows($a: String) {
  workflows(first: 100, after: $a) {
    nodes {
      id
      name
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `, {"hash":"7fdf7a1bbebd8c05f078e6c8cee08ee2ef3f8f103f08b5084e7700687b7a5baf"}) as unknown as TypedDocumentString<RunListWorkflowsQuery, RunListWorkflowsQueryVariables>;
export const SignInViewerDocument = new TypedDocumentString(`
    query SignInViewer {
  viewer {
    role
    permissions
    tenant {
      id
      name
    }
    token {
      id
      name
      expiresAt
    }
  }
}
    `, {"hash":"461976a16f6496542fca68ae42bce5796a1e519af5dce4fec755ab6653e59ecf"}) as unknown as TypedDocumentString<SignInViewerQuery, SignInViewerQueryVariables>;
export const TenantAdminTenantsDocument = new TypedDocumentString(`
    query TenantAdminTenants($after: String) {
  tenants(first: 50, after: $after) {
    nodes {
      ...TenantAdminTenantFields
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment TenantAdminTenantFields on Tenant {
  id
  name
  createdAt
  quota {
    maxConcurrentRuns
    maxRunsPerDay
    maxStepsPerWorkflow
    maxRunDurationSeconds
    maxInputBytes
    sandboxCpuMsPerDay
  }
  auditRetentionDays
  auditLegalHold
}`, {"hash":"bb20e6bd998251a57ef987da49b2fe0b7fd9b1484c98d931503407e88c42e7ab"}) as unknown as TypedDocumentString<TenantAdminTenantsQuery, TenantAdminTenantsQueryVariables>;
export const TenantAdminCreateDocument = new TypedDocumentString(`
    mutation TenantAdminCreate($n: String!) {
  createTenant(input: {name: $n}) {
    ...TenantAdminTenantFields
  }
}
    fragment TenantAdminTenantFields on Tenant {
  id
  name
  createdAt
  quota {
    maxConcurrentRuns
    maxRunsPerDay
    maxStepsPerWorkflow
    maxRunDurationSeconds
    maxInputBytes
    sandboxCpuMsPerDay
  }
  auditRetentionDays
  auditLegalHold
}`, {"hash":"cd32d1ad950090c2ce6d8c0f0b449ff5de9bb6ac397b0c0bb3549162dcb5ef1a"}) as unknown as TypedDocumentString<TenantAdminCreateMutation, TenantAdminCreateMutationVariables>;
export const TenantAdminSetQuotaDocument = new TypedDocumentString(`
    mutation TenantAdminSetQuota($i: SetTenantQuotaInput!) {
  setTenantQuota(input: $i) {
    ...TenantAdminTenantFields
  }
}
    fragment TenantAdminTenantFields on Tenant {
  id
  name
  createdAt
  quota {
    maxConcurrentRuns
    maxRunsPerDay
    maxStepsPerWorkflow
    maxRunDurationSeconds
    maxInputBytes
    sandboxCpuMsPerDay
  }
  auditRetentionDays
  auditLegalHold
}`, {"hash":"969f107b8578002ede5bc0dff9e4b8b8c939d552d31e01382cd6b8ca038699e0"}) as unknown as TypedDocumentString<TenantAdminSetQuotaMutation, TenantAdminSetQuotaMutationVariables>;
export const TenantAdminSetRetentionDocument = new TypedDocumentString(`
    mutation TenantAdminSetRetention($i: SetAuditRetentionInput!) {
  setAuditRetention(input: $i) {
    ...TenantAdminTenantFields
  }
}
    fragment TenantAdminTenantFields on Tenant {
  id
  name
  createdAt
  quota {
    maxConcurrentRuns
    maxRunsPerDay
    maxStepsPerWorkflow
    maxRunDurationSeconds
    maxInputBytes
    sandboxCpuMsPerDay
  }
  auditRetentionDays
  auditLegalHold
}`, {"hash":"4035caec5a319e2e926dd1d2d8ba6c587f8624475ac817b36bb4995e96fcb496"}) as unknown as TypedDocumentString<TenantAdminSetRetentionMutation, TenantAdminSetRetentionMutationVariables>;
export const TriggersOfWorkflowDocument = new TypedDocumentString(`
    query TriggersOfWorkflow($w: ID!) {
  workflow(id: $w) {
    webhookTriggers {
      id
      name
      url
      version
      enabled
      allowedSources
      deliveryIdHeader
      createdAt
      previousSecretExpiresAt
    }
    schedules {
      id
      name
      cron
      timeZone
      version
      paused
      catchUp
      nextFireTimes(count: 3)
      lastFiredSlot
      skippedSlots
      lastError
    }
  }
}
    `, {"hash":"fd8f0707634201a0924dac0241d57f7b457fe3f250c441ca2ce6f0005c8d07a1"}) as unknown as TypedDocumentString<TriggersOfWorkflowQuery, TriggersOfWorkflowQueryVariables>;
export const TriggersCreateWebhookDocument = new TypedDocumentString(`
    mutation TriggersCreateWebhook($i: CreateWebhookTriggerInput!) {
  createWebhookTrigger(input: $i) {
    secret
    trigger {
      id
      url
    }
  }
}
    `, {"hash":"0f1dc19ec794ec067bca42300525471aa961c32a93a3bfae98c43081aa9e9e22"}) as unknown as TypedDocumentString<TriggersCreateWebhookMutation, TriggersCreateWebhookMutationVariables>;
export const TriggersUpdateWebhookDocument = new TypedDocumentString(`
    mutation TriggersUpdateWebhook($i: UpdateWebhookTriggerInput!) {
  updateWebhookTrigger(input: $i) {
    id
  }
}
    `, {"hash":"1c97cbf4de60369c764029294a27129c91d4a991b45cacb1767fbd746ad67e8d"}) as unknown as TypedDocumentString<TriggersUpdateWebhookMutation, TriggersUpdateWebhookMutationVariables>;
export const TriggersRotateWebhookSecretDocument = new TypedDocumentString(`
    mutation TriggersRotateWebhookSecret($i: RotateWebhookTriggerSecretInput!) {
  rotateWebhookTriggerSecret(input: $i) {
    secret
    trigger {
      id
      url
    }
  }
}
    `, {"hash":"92c3c07a62583aa0c575ac5be45a093156a75d606c6d81c7529d525950ca231d"}) as unknown as TypedDocumentString<TriggersRotateWebhookSecretMutation, TriggersRotateWebhookSecretMutationVariables>;
export const TriggersDeleteWebhookDocument = new TypedDocumentString(`
    mutation TriggersDeleteWebhook($id: ID!) {
  deleteWebhookTrigger(id: $id) {
    id
  }
}
    `, {"hash":"79ca492d57cba7c3b62d9df2d90e1cfaebbb1b4d3e59c3f0128a3cf5796d3c3e"}) as unknown as TypedDocumentString<TriggersDeleteWebhookMutation, TriggersDeleteWebhookMutationVariables>;
export const TriggersCreateScheduleDocument = new TypedDocumentString(`
    mutation TriggersCreateSchedule($i: CreateScheduleInput!) {
  createSchedule(input: $i) {
    id
  }
}
    `, {"hash":"d0c46bb014dc0789421e2815f09e884d4ffc699cf05ac03db4e5b15e243d3897"}) as unknown as TypedDocumentString<TriggersCreateScheduleMutation, TriggersCreateScheduleMutationVariables>;
export const TriggersPauseScheduleDocument = new TypedDocumentString(`
    mutation TriggersPauseSchedule($id: ID!) {
  pauseSchedule(id: $id) {
    id
  }
}
    `, {"hash":"1d18e8f77daec3516a023ddc613208201349e3bc43d673091f8271c3f6329de8"}) as unknown as TypedDocumentString<TriggersPauseScheduleMutation, TriggersPauseScheduleMutationVariables>;
export const TriggersResumeScheduleDocument = new TypedDocumentString(`
    mutation TriggersResumeSchedule($id: ID!) {
  resumeSchedule(id: $id) {
    id
  }
}
    `, {"hash":"f405521537f406ef6b89b81ffb7da860eb5c6bf1930c2cff70302b84f1e52c5a"}) as unknown as TypedDocumentString<TriggersResumeScheduleMutation, TriggersResumeScheduleMutationVariables>;
export const TriggersDeleteScheduleDocument = new TypedDocumentString(`
    mutation TriggersDeleteSchedule($id: ID!) {
  deleteSchedule(id: $id) {
    id
  }
}
    `, {"hash":"1feba1ff9b0c48dc52415d5c8a9e12a19590790392e3d9c16a543dadb7e22480"}) as unknown as TypedDocumentString<TriggersDeleteScheduleMutation, TriggersDeleteScheduleMutationVariables>;
export const WorkflowDetailDocument = new TypedDocumentString(`
    query WorkflowDetail($id: ID!) {
  workflow(id: $id) {
    id
    name
    createdAt
    latestVersion {
      version
      definition
    }
    versions {
      version
      createdAt
    }
  }
}
    `, {"hash":"dc9231bd1c7b2cc88ec6e7338e00adb809686f05bd7ad2bd5e0a71568d2a38ec"}) as unknown as TypedDocumentString<WorkflowDetailQuery, WorkflowDetailQueryVariables>;
export const WorkflowVersionDefinitionDocument = new TypedDocumentString(`
    query WorkflowVersionDefinition($id: ID!, $v: Int!) {
  workflow(id: $id) {
    version(version: $v) {
      version
      definition
    }
  }
}
    `, {"hash":"8c17c0bff4e48428b0119147983a85193be0793e368e1d6f9fbf8d193f1c140b"}) as unknown as TypedDocumentString<WorkflowVersionDefinitionQuery, WorkflowVersionDefinitionQueryVariables>;
export const WorkflowPublishVersionDocument = new TypedDocumentString(`
    mutation WorkflowPublishVersion($i: PublishWorkflowVersionInput!) {
  publishWorkflowVersion(input: $i) {
    version
  }
}
    `, {"hash":"d96bb67d770659282db3d0d55d3f0c4a889be1ceb36eb17c21c1621c1d2d3dcb"}) as unknown as TypedDocumentString<WorkflowPublishVersionMutation, WorkflowPublishVersionMutationVariables>;
export const WorkflowStartRunDocument = new TypedDocumentString(`
    mutation WorkflowStartRun($i: StartRunInput!) {
  startRun(input: $i) {
    id
  }
}
    `, {"hash":"fd6e114510b3af788b363ff855aa4dd5dbd4d8916ca657bee6596213d5b0729d"}) as unknown as TypedDocumentString<WorkflowStartRunMutation, WorkflowStartRunMutationVariables>;
export const WorkflowsListDocument = new TypedDocumentString(`
    query WorkflowsList($n: Int, $a: String) {
  workflows(first: $n, after: $a) {
    nodes {
      id
      name
      createdAt
      latestVersion {
        version
        createdAt
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `, {"hash":"441e9f12600345934ee0f05ae634bddbaae168ebef7963cfaefc5c88fa5f9789"}) as unknown as TypedDocumentString<WorkflowsListQuery, WorkflowsListQueryVariables>;
export const WorkflowsCreateDocument = new TypedDocumentString(`
    mutation WorkflowsCreate($i: CreateWorkflowInput!) {
  createWorkflow(input: $i) {
    id
  }
}
    `, {"hash":"36ac87c0e4ce1c8fe2cd65b51a314de388797eb9daaf367feb3d40436e94988e"}) as unknown as TypedDocumentString<WorkflowsCreateMutation, WorkflowsCreateMutationVariables>;