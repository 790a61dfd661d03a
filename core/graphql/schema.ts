/**
 * The public GraphQL schema: the contract of ../shared/CONTRACT.md plus additions marked
 * below. The audit-export operation joins when the audit export lands; nothing here
 * answers with a placeholder.
 */
import { API_MODULES } from './apiModules.js';

const baseTypeDefs = /* GraphQL */ `
  scalar JSON
  scalar DateTime

  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }

  type Viewer {
    role: String!
    tenant: Tenant
    token: ApiToken!
    "Addition: what the role may do, such as run:operate or plugin:manage (the admin UI shows what these allow)."
    permissions: [String!]!
  }

  type TenantQuota {
    maxConcurrentRuns: Int
    maxRunsPerDay: Int
    maxStepsPerWorkflow: Int
    maxRunDurationSeconds: Int
    maxInputBytes: Int
    sandboxCpuMsPerDay: Int
  }
  type Tenant {
    id: ID!
    name: String!
    createdAt: DateTime!
    quota: TenantQuota!
    "Audit events older than this are removed by the retention job (default 2557 days, 7 years)."
    auditRetentionDays: Int!
    "While true, the retention job removes nothing of this tenant's audit log."
    auditLegalHold: Boolean!
  }
  input SetAuditRetentionInput {
    tenantId: ID!
    "1 to 36500; omitted: unchanged."
    retentionDays: Int
    "Omitted: unchanged."
    legalHold: Boolean
  }
  type TenantEdge {
    cursor: String!
    node: Tenant!
  }
  type TenantConnection {
    edges: [TenantEdge!]!
    nodes: [Tenant!]!
    pageInfo: PageInfo!
  }

  type ApiToken {
    id: ID!
    name: String!
    role: String!
    tenantId: ID
    "The token's public prefix; the secret part is never stored or shown again."
    prefix: String!
    createdAt: DateTime!
    expiresAt: DateTime
    revokedAt: DateTime
    lastUsedAt: DateTime
  }
  type ApiTokenEdge {
    cursor: String!
    node: ApiToken!
  }
  type ApiTokenConnection {
    edges: [ApiTokenEdge!]!
    nodes: [ApiToken!]!
    pageInfo: PageInfo!
  }
  type CreatedApiToken {
    "Shown once."
    token: String!
    apiToken: ApiToken!
  }

  type Workflow {
    id: ID!
    name: String!
    createdAt: DateTime!
    latestVersion: WorkflowVersion!
    versions: [WorkflowVersion!]!
    version(version: Int!): WorkflowVersion
  }
  type WorkflowVersion {
    id: ID!
    version: Int!
    definition: JSON!
    createdAt: DateTime!
    workflow: Workflow!
  }
  type WorkflowEdge {
    cursor: String!
    node: Workflow!
  }
  type WorkflowConnection {
    edges: [WorkflowEdge!]!
    nodes: [Workflow!]!
    pageInfo: PageInfo!
  }

  enum RunStatus {
    QUEUED
    RUNNING
    WAITING
    SUCCEEDED
    FAILED
    CANCELLED
    TIMED_OUT
  }
  enum StepStatus {
    PENDING
    RUNNING
    WAITING
    SUCCEEDED
    FAILED
    SKIPPED
    CANCELLED
  }

  "Addition: the contract's failure { code, message } as a type, with whether a retry can help, where it arose and what its code means. Why a step, a compensation or a run failed; the README's Step failures section lists the catalogue of codes the appliance records."
  type StepFailure {
    "A stable code: one of the catalogue's, or one a plugin raised itself (source PLUGIN). Runs recorded by older releases may hold retired codes (BAD_INPUT, now BAD_USER_INPUT)."
    code: String!
    "What happened this time, for people; never a host stack trace."
    message: String!
    "Whether another attempt can help. The engine retried a retryable failure while the step had attempts left; a run's own error is never retryable (the engine does not retry runs)."
    retryable: Boolean!
    "Where the failure arose: what to look at first."
    source: StepFailureSource!
    "The catalogue's one-line meaning of the code; null for a code the catalogue does not hold (a plugin's own)."
    meaning: String
  }
  "Where a failure arose."
  enum StepFailureSource {
    "The workflow's definition or the data it gave the step (templates, input, credentials, timeouts, the run's deadline): fix the workflow or its input."
    WORKFLOW
    "A person's decision, or the lack of one: an approval rejected or not given in time, a run cancelled."
    OPERATOR
    "The appliance itself: a lost worker, an unexpected executor failure, a plugin no longer installed, the tenant's quota."
    ENGINE
    "The plugin sandbox stopped the attempt or could not run it: its deadline, CPU and memory limits, or its process."
    SANDBOX
    "A plugin's network request: the egress policy and caps, the network, the remote host, or the host's integration guard."
    EGRESS
    "The plugin's own code or result, and every code a plugin defines itself."
    PLUGIN
  }

  type StepExecution {
    stepId: ID!
    status: StepStatus!
    attempts: Int!
    output: JSON
    "The failure of the step's latest failed attempt; cleared when the step succeeds or its run is retried."
    error: StepFailure
    startedAt: DateTime
    finishedAt: DateTime
    "The key plugins pass to the outside world; the same across retries of this step in this run."
    idempotencyKey: String!
    "Addition: the step's with as its latest attempt was given it, rendered from the run's input and the stored outputs of the upstream steps its templates read. Null while the step has not started."
    input: JSON
    "Addition: the undo of this step after its run failed for good (the step's compensate action). Null when the step was not compensated."
    compensation: StepCompensation
  }
  enum CompensationStatus {
    PENDING
    RUNNING
    SUCCEEDED
    FAILED
    CANCELLED
  }
  type StepCompensation {
    status: CompensationStatus!
    "Place in the run's compensation order: 0 undid the step that completed last."
    order: Int!
    attempts: Int!
    output: JSON
    "The failure of the compensation's latest failed attempt; cleared when it succeeds."
    error: StepFailure
    startedAt: DateTime
    finishedAt: DateTime
    "The key the compensating action passes to the outside world; the same across its retries, and not the step's."
    idempotencyKey: String!
  }
  type RunEvent {
    seq: Int!
    type: String!
    stepId: ID
    at: DateTime!
    data: JSON!
  }
  type RunEventEdge {
    cursor: String!
    node: RunEvent!
  }
  type RunEventConnection {
    edges: [RunEventEdge!]!
    nodes: [RunEvent!]!
    pageInfo: PageInfo!
  }

  type Run {
    id: ID!
    status: RunStatus!
    input: JSON
    output: JSON
    "Why the run failed (STEP_FAILED, also while it compensates), timed out (RUN_TIMEOUT) or was cancelled (RUN_CANCELLED). Null otherwise."
    error: StepFailure
    createdAt: DateTime!
    finishedAt: DateTime
    deadlineAt: DateTime!
    idempotencyKey: String
    workflowVersion: WorkflowVersion!
    steps: [StepExecution!]!
    events(first: Int, after: String): RunEventConnection!
    "Addition: how the run was started."
    origin: RunOrigin!
  }
  enum RunOriginKind {
    API
    WEBHOOK
    SCHEDULE
  }
  type RunOrigin {
    kind: RunOriginKind!
    "API: the token that started the run."
    tokenId: ID
    "WEBHOOK: the trigger that received the delivery."
    webhookTriggerId: ID
    "WEBHOOK: the sender's delivery id (null when the sender sent none)."
    deliveryId: String
    "SCHEDULE: the schedule that fired."
    scheduleId: ID
    "SCHEDULE: the slot it fired for (the time the cron expression named, not when it ran)."
    slot: DateTime
  }
  type RunEdge {
    cursor: String!
    node: Run!
  }
  type RunConnection {
    edges: [RunEdge!]!
    nodes: [Run!]!
    pageInfo: PageInfo!
  }
  input RunFilter {
    status: RunStatus
    workflowId: ID
    createdAfter: DateTime
    createdBefore: DateTime
  }

  type AuditEvent {
    "Position in the tenant's hash chain (the appliance's chain for its own events)."
    seq: Int!
    at: DateTime!
    tenantId: ID
    actorTokenId: ID
    actorName: String!
    actorRole: String!
    action: String!
    targetType: String!
    targetId: String
    outcome: String!
    reason: String
    requestId: String
    sourceAddress: String
    userAgent: String
    details: JSON!
    "Hex SHA-256 link of this event in its chain."
    hash: String!
  }
  type AuditEventEdge {
    cursor: String!
    node: AuditEvent!
  }
  type AuditEventConnection {
    edges: [AuditEventEdge!]!
    nodes: [AuditEvent!]!
    pageInfo: PageInfo!
  }
  input AuditExportInput {
    "SYSTEM_ADMIN only: export this tenant's chain (omitted: the appliance's own). Tenant tokens always export their own."
    tenantId: ID
    "Events at or after this time (omitted: from the chain's start)."
    from: DateTime
    "Events before this time (omitted: up to the export)."
    to: DateTime
    "Only these actions' contents (the links of the others are still in the bundle, so the chain verifies)."
    actions: [String!]
  }
  type AuditExport {
    id: ID!
    "GET it with the same bearer token within a day: a .tar.gz bundle."
    downloadUrl: String!
    "Hex SHA-256 of the bundle."
    sha256: String!
    bytes: Int!
    eventCount: Int!
    firstSeq: Int
    lastSeq: Int
    "Whether every link of the chain verified as the appliance exported it."
    verified: Boolean!
    verificationProblem: String
    createdAt: DateTime!
    expiresAt: DateTime!
  }
  type AuditSigningCertificate {
    "Hex SHA-256 of the certificate's DER."
    fingerprint: String!
    pem: String!
  }
  input AuditFilter {
    "SYSTEM_ADMIN only: read this tenant's log (omitted: the appliance's own events). Tenant tokens always read their own."
    tenantId: ID
    action: String
    from: DateTime
    to: DateTime
  }

  enum PluginTrust {
    CORE
    SIGNED
    UNSIGNED
  }
  type PluginAction {
    name: String!
    description: String!
    inputSchema: JSON!
    outputSchema: JSON!
    "As workflows name it: plugin/action@major."
    uses: String!
  }
  type PluginPermissions {
    hosts: [String!]!
    credentialTypes: [String!]!
    rawSecretAccess: Boolean!
  }
  type PluginResources {
    memoryMb: Int
    timeoutMs: Int
    cpuMs: Int
    maxRequests: Int
    maxResponseBytes: Int
  }
  "The administrator's policy for a plugin (all its versions)."
  type PluginPolicy {
    "Host patterns the plugin may reach, intersected with its manifest's; * allows what the manifest asks for."
    allowedHosts: [String!]!
    "Hosts or CIDRs it may reach although they resolve to loopback, private or link-local addresses."
    allowedPrivate: [String!]!
    rawSecretAccessApproved: Boolean!
  }
  "An installed plugin version. Several versions of a plugin live side by side."
  type Plugin {
    "System administrators only (null for others): internal host names are not every tenant's business."
    policy: PluginPolicy
    id: ID!
    name: String!
    version: String!
    publisher: String!
    trust: PluginTrust!
    actions: [PluginAction!]!
    permissions: PluginPermissions!
    resources: PluginResources!
    minApplianceVersion: String!
    scriptSha256: String!
    packageSha256: String!
    publisherFingerprint: String
    certificateNotAfter: DateTime
    installedAt: DateTime!
  }

  "Addition: a plugin package as verification found it, before installing it."
  type PluginPackageCheck {
    "Whether installPlugin would accept it."
    ok: Boolean!
    "Why not: the signature or format check's code, RESERVED_NAME or VERSION_CONFLICT."
    refusal: String
    reason: String
    "Null when the package could not be read or its signature did not verify."
    name: String
    version: String
    publisher: String
    "SIGNED, or UNSIGNED when the appliance allows unsigned packages."
    trust: PluginTrust
    publisherFingerprint: String
    certificateNotAfter: DateTime
    minApplianceVersion: String
    packageSha256: String
    scriptSha256: String
    actions: [PluginAction!]
    permissions: PluginPermissions
    resources: PluginResources
    "The same name and version, already installed (installing the identical package again changes nothing)."
    installed: Plugin
  }

  "A tenant credential. The secret is write-only: no field returns it."
  type Credential {
    id: ID!
    name: String!
    type: String!
    "Settings that are not secret (baseUrl, headerName, paramName)."
    config: JSON!
    "Hosts the secret may be sent to; a plugin step also needs the host in its own allow list."
    allowedHosts: [String!]!
    createdAt: DateTime!
    updatedAt: DateTime!
  }

  enum CircuitState {
    CLOSED
    OPEN
    HALF_OPEN
  }
  "A guard's circuit breaker, as every engine process sees it."
  type CircuitBreaker {
    state: CircuitState!
    consecutiveFailures: Int!
    openedAt: DateTime
    "OPEN: when the next request may be the half-open trial."
    retryAt: DateTime
    "The host asked (429, or 503 with Retry-After) to hear nothing before then."
    heldUntil: DateTime
  }
  "Addition: the tenant's rate limit and circuit breaker for one integration host pattern."
  type IntegrationGuard {
    host: String!
    "Requests per second in each engine process; null: no rate limit."
    ratePerSecond: Float
    burst: Int
    failureThreshold: Int!
    coolDownSeconds: Int!
    breaker: CircuitBreaker!
    updatedAt: DateTime!
  }

  "Model tokens used by the caller's tenant on one UTC day with one model."
  type LlmUsage {
    day: String!
    model: String!
    calls: Int!
    cachedCalls: Int!
    promptTokens: Float!
    completionTokens: Float!
  }

  type RunsInMinute {
    minute: DateTime!
    started: Int!
    failed: Int!
  }
  "Addition: the tenant's operating picture (the admin UI's overview)."
  type RunOverview {
    "Minutes of the last hour that started runs, oldest first."
    runsPerMinute: [RunsInMinute!]!
    startedLastHour: Int!
    failedLastHour: Int!
    queued: Int!
    running: Int!
    waiting: Int!
    "Step jobs due in the queue or held in the tenant's backlog."
    queueDepth: Int!
    waitingApprovals: Int!
    openCircuitBreakers: Int!
  }
  "Addition: a step waiting for approveStep."
  type PendingApproval {
    run: Run!
    stepId: ID!
    since: DateTime!
    "When it times out, if it does."
    until: DateTime
  }

  type Query {
    viewer: Viewer!
    "Addition: the tenant's llm/chat usage per day and model, newest first (from/to: UTC days, inclusive)."
    llmUsage(from: DateTime, to: DateTime): [LlmUsage!]!
    "Metadata only; secrets are never readable."
    credentials: [Credential!]!
    "Addition: the tenant's integration guards and their breakers' state."
    integrationGuards: [IntegrationGuard!]!
    "Installed plugin versions, newest first per plugin."
    plugins: [Plugin!]!
    "Addition. SYSTEM_ADMIN. Verifies a package (base64) as installPlugin would, installing and recording nothing."
    verifyPluginPackage(bundle: String!): PluginPackageCheck!
    tenants(first: Int, after: String): TenantConnection!
    "Addition: tokens of the caller's tenant (ADMIN), or of any tenant (SYSTEM_ADMIN; tenantId omitted = system-admin tokens)."
    apiTokens(tenantId: ID, first: Int, after: String): ApiTokenConnection!
    workflow(id: ID!): Workflow
    workflows(first: Int, after: String): WorkflowConnection!
    run(id: ID!): Run
    "Addition (tenant tokens): runs in flight, queue depth, waiting approvals, open breakers and the last hour's runs per minute."
    runOverview: RunOverview!
    "Addition (tenant tokens): approval steps waiting for a decision, oldest first."
    pendingApprovals(first: Int): [PendingApproval!]!
    runs(filter: RunFilter, first: Int, after: String): RunConnection!
    auditEvents(filter: AuditFilter, first: Int, after: String): AuditEventConnection!
    "The certificate that signs audit checkpoints and exports: give it to whoever verifies them."
    auditSigningCertificate: AuditSigningCertificate!
  }

  input CreateTenantInput {
    name: String!
  }
  input CreateApiTokenInput {
    tenantId: ID
    role: String!
    name: String!
    expiresInSeconds: Int
  }
  input SetTenantQuotaInput {
    tenantId: ID!
    maxConcurrentRuns: Int
    maxRunsPerDay: Int
    maxStepsPerWorkflow: Int
    maxRunDurationSeconds: Int
    maxInputBytes: Int
    sandboxCpuMsPerDay: Int
  }
  input CreateWorkflowInput {
    name: String!
    definition: JSON!
  }
  input PublishWorkflowVersionInput {
    workflowId: ID!
    definition: JSON!
  }
  input StartRunInput {
    workflowId: ID!
    version: Int
    input: JSON
    idempotencyKey: String
  }
  input ApproveStepInput {
    runId: ID!
    stepId: ID!
    approved: Boolean!
    comment: String
  }
  input InstallPluginInput {
    "base64 of the signed package (a gzipped tar)"
    bundle: String!
  }
  "type: bearer { token } | basic { username password } | header { token } + config { headerName } | query { token } + config { paramName } | openai { token } + config { baseUrl }"
  input SetCredentialInput {
    name: String!
    type: String!
    secret: JSON!
    allowedHosts: [String!]!
    config: JSON
  }
  input SetPluginPolicyInput {
    name: String!
    allowedHosts: [String!]
    allowedPrivate: [String!]
    rawSecretAccessApproved: Boolean
  }
  "Omitted: no rate limit (ratePerSecond), a second's worth of requests (burst), 5 failures, 30 seconds."
  input SetIntegrationGuardInput {
    host: String!
    ratePerSecond: Float
    burst: Int
    failureThreshold: Int
    coolDownSeconds: Int
  }
  input RemovePluginInput {
    name: String!
    version: String!
    "Remove even if published workflow versions use it (their runs then fail)."
    force: Boolean
  }

  type Mutation {
    createTenant(input: CreateTenantInput!): Tenant!
    createApiToken(input: CreateApiTokenInput!): CreatedApiToken!
    revokeApiToken(id: ID!): ApiToken!
    setTenantQuota(input: SetTenantQuotaInput!): Tenant!
    "SYSTEM_ADMIN: a tenant's audit retention and legal hold."
    setAuditRetention(input: SetAuditRetentionInput!): Tenant!
    createWorkflow(input: CreateWorkflowInput!): Workflow!
    publishWorkflowVersion(input: PublishWorkflowVersionInput!): WorkflowVersion!
    startRun(input: StartRunInput!): Run!
    cancelRun(id: ID!): Run!
    retryRun(id: ID!): Run!
    approveStep(input: ApproveStepInput!): Run!
    "Creates the credential or replaces it (ADMIN, EDITOR)."
    setCredential(input: SetCredentialInput!): Credential!
    deleteCredential(name: String!): Credential!
    "Addition. ADMIN. Creates the guard or replaces its settings (its breaker keeps its state)."
    setIntegrationGuard(input: SetIntegrationGuardInput!): IntegrationGuard!
    "Addition. ADMIN."
    deleteIntegrationGuard(host: String!): IntegrationGuard!
    "AUDITOR, ADMIN or SYSTEM_ADMIN: a signed bundle of the audit chain for a period (events.jsonl, events.csv, report.html, checkpoints, certificate, signed manifest.json)."
    exportAuditReport(input: AuditExportInput!): AuditExport!
    "SYSTEM_ADMIN. Verifies the package's signature, publisher and compatibility before installing."
    installPlugin(input: InstallPluginInput!): Plugin!
    "Addition. SYSTEM_ADMIN. Refused while a published workflow version uses the plugin version, unless forced."
    removePlugin(input: RemovePluginInput!): Plugin!
    "Addition. SYSTEM_ADMIN. Omitted fields are unchanged."
    setPluginPolicy(input: SetPluginPolicyInput!): PluginPolicy!
  }

  type Subscription {
    "Live step and run transitions, from whichever process made them. afterSeq replays stored events first."
    runEvents(runId: ID!, afterSeq: Int): RunEvent!
  }
`;

/** The whole schema: the base above and each feature's API module (apiModules.ts). */
export const typeDefs = [baseTypeDefs, ...API_MODULES.map((m) => m.typeDefs)].join('\n');
