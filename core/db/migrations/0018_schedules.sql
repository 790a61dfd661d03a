-- Cron schedules: a workflow started at each slot of a five-field cron expression in an
-- IANA time zone. next_fire_at is the next slot not yet fired (an absolute instant, so
-- DST is resolved once, when it is computed); engine processes claim due rows with
-- FOR UPDATE SKIP LOCKED, and each slot's run carries the idempotency key
-- schedule:<id>:<slot>, so a slot fires once however many processes tick.
create table schedules (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  workflow_id uuid not null references workflows(id) on delete cascade,
  name text not null,
  cron text not null,
  time_zone text not null,
  -- Null: the workflow's latest version when the slot fires.
  version int check (version >= 1),
  -- The run input; templates may read the slot ({{ schedule.slot }}).
  input jsonb not null default '{}',
  paused boolean not null default false,
  catch_up text not null check (catch_up in ('SKIP', 'BACKFILL')),
  backfill_limit int not null check (backfill_limit between 1 and 1000),
  next_fire_at timestamptz not null,
  last_fired_slot timestamptz,
  last_run_id uuid,
  skipped_slots bigint not null default 0,
  -- The last slot that could not start a run: { slot, code, message, at }.
  last_error jsonb,
  created_at timestamptz not null default now(),
  created_by uuid,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  unique (tenant_id, workflow_id, name)
);
create index schedules_due on schedules (next_fire_at) where not paused;
create index schedules_workflow on schedules (tenant_id, workflow_id);

alter table schedules enable row level security;
alter table schedules force row level security;
create policy tenant_isolation on schedules using (tenant_id = app_tenant_id()) with check (tenant_id = app_tenant_id());
-- The ticker's claim (claim_due_schedules) locks due rows of every tenant as the owner.
create policy owner_claim on schedules for all to ${owner_role} using (true) with check (true);
grant select, insert, update, delete on schedules to ${runtime_role};

-- Due schedules of every tenant, locked until the caller's transaction ends; rows another
-- process holds are skipped, never waited for, so each due schedule is handled by one
-- process at a time. Only ids and tenants leave the function.
create function claim_due_schedules(p_limit int) returns table (id uuid, tenant_id uuid)
  language sql volatile security definer set search_path = pg_catalog, public as $$
  select s.id, s.tenant_id from schedules s
   where not s.paused and s.next_fire_at <= clock_timestamp()
   order by s.next_fire_at
   limit p_limit
   for update skip locked
$$;
revoke all on function claim_due_schedules(int) from public;
grant execute on function claim_due_schedules(int) to ${runtime_role};
