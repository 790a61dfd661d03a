-- Foundation: tenants, API tokens, workflows and immutable versions, runs, step
-- executions, the append-only run event log, and engine node liveness.
-- Every tenant-scoped table carries tenant_id so row-level security can be enforced on it.

create table tenants (
  id uuid primary key,
  name text not null unique check (length(name) between 1 and 200),
  quotas jsonb not null default '{}',
  created_at timestamptz not null default now()
);

create table api_tokens (
  id uuid primary key,
  tenant_id uuid references tenants(id),
  role text not null check (role in ('SYSTEM_ADMIN', 'ADMIN', 'EDITOR', 'OPERATOR', 'VIEWER', 'AUDITOR')),
  name text not null check (length(name) between 1 and 200),
  -- The first characters of the token, safe to display; the token itself is never stored.
  prefix text not null unique,
  token_hash bytea not null unique,
  created_at timestamptz not null default now(),
  created_by uuid,
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  check ((role = 'SYSTEM_ADMIN') = (tenant_id is null))
);
create index api_tokens_tenant_idx on api_tokens (tenant_id, id);

create table workflows (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  name text not null check (length(name) between 1 and 200),
  latest_version int not null default 1,
  created_at timestamptz not null default now(),
  created_by uuid,
  unique (tenant_id, name)
);
create index workflows_tenant_idx on workflows (tenant_id, id);

create table workflow_versions (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  workflow_id uuid not null references workflows(id),
  version int not null check (version >= 1),
  definition jsonb not null,
  created_at timestamptz not null default now(),
  created_by uuid,
  unique (workflow_id, version)
);

-- Published versions never change: in-flight runs depend on exactly what they started with.
create function refuse_change() returns trigger language plpgsql as $$
begin
  raise exception '% rows are immutable', tg_table_name using errcode = 'integrity_constraint_violation';
end $$;
create trigger workflow_versions_immutable before update or delete on workflow_versions
  for each row execute function refuse_change();

create table runs (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  workflow_id uuid not null references workflows(id),
  workflow_version_id uuid not null references workflow_versions(id),
  status text not null check (status in ('QUEUED', 'RUNNING', 'WAITING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT')),
  input jsonb not null,
  output jsonb,
  error jsonb,
  idempotency_key text,
  -- Compare-and-swap counter: bumped by every state change; also the next event sequence number.
  version int not null default 0,
  created_at timestamptz not null default now(),
  created_by uuid,
  finished_at timestamptz,
  deadline_at timestamptz not null,
  unique (tenant_id, workflow_id, idempotency_key)
);
create index runs_tenant_idx on runs (tenant_id, id desc);
create index runs_tenant_status_idx on runs (tenant_id, status, id desc);
create index runs_tenant_workflow_idx on runs (tenant_id, workflow_id, id desc);
create index runs_active_deadline_idx on runs (deadline_at) where status in ('QUEUED', 'RUNNING', 'WAITING');

create table step_executions (
  run_id uuid not null references runs(id) on delete cascade,
  step_id text not null,
  tenant_id uuid not null references tenants(id),
  status text not null check (status in ('PENDING', 'RUNNING', 'WAITING', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED')),
  attempts int not null default 0,
  output jsonb,
  error jsonb,
  -- Set when a job has been queued for the step's current attempt; internal to the engine.
  queued_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  -- Order in which steps settled; compensation (a later issue) walks it backwards.
  settled_seq int,
  primary key (run_id, step_id)
);

create table run_events (
  run_id uuid not null references runs(id) on delete cascade,
  seq int not null,
  tenant_id uuid not null references tenants(id),
  type text not null,
  step_id text,
  at timestamptz not null default now(),
  data jsonb not null default '{}',
  primary key (run_id, seq)
);
create trigger run_events_append_only before update on run_events
  for each row execute function refuse_change();

-- Engine processes. Each holds a session advisory lock on (namespace, lock_key) for as
-- long as it lives; a node whose lock is gone has died and its claimed jobs are released.
create table engine_nodes (
  id uuid primary key,
  lock_key int generated always as identity unique,
  hostname text not null,
  pid int not null,
  role text not null,
  started_at timestamptz not null default now()
);

create table engine_node_workers (
  worker_id text primary key,
  node_id uuid not null references engine_nodes(id) on delete cascade
);
