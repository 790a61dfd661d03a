-- The audit log every mutation writes in its own transaction. Append-only: rows are
-- never updated. (Hash chaining and signed checkpoints build on this table.)
create table audit_events (
  seq bigint generated always as identity primary key,
  id uuid not null unique,
  at timestamptz not null default now(),
  tenant_id uuid references tenants(id),
  actor_token_id uuid,
  actor_name text not null,
  actor_role text not null,
  action text not null,
  target_type text not null,
  target_id text,
  outcome text not null check (outcome in ('SUCCESS', 'FAILURE', 'DENIED')),
  reason text,
  request_id text,
  source_address text,
  user_agent text,
  details jsonb not null default '{}'
);
create index audit_events_tenant_idx on audit_events (tenant_id, seq);
create trigger audit_events_append_only before update or delete on audit_events
  for each row execute function refuse_change();
