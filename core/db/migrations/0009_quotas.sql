-- Durable per-tenant quota counters. Concurrency is counted from the runs table itself
-- (a run counts from its insert to its terminal status), so it cannot drift and is right
-- across restarts and any number of server processes. Per-day counters live here.

create table tenant_daily_usage (
  tenant_id uuid not null references tenants(id),
  -- UTC day.
  day date not null,
  runs_started int not null default 0,
  primary key (tenant_id, day)
);
-- Apart from the runs counter, whose row lock serialises a tenant's run admissions:
-- step results recording CPU must not queue behind starts.
create table tenant_daily_sandbox_usage (
  tenant_id uuid not null references tenants(id),
  day date not null,
  cpu_ms bigint not null default 0,
  primary key (tenant_id, day)
);
alter table tenant_daily_usage enable row level security;
alter table tenant_daily_usage force row level security;
create policy tenant_isolation on tenant_daily_usage using (tenant_id = app_tenant_id()) with check (tenant_id = app_tenant_id());
alter table tenant_daily_sandbox_usage enable row level security;
alter table tenant_daily_sandbox_usage force row level security;
create policy tenant_isolation on tenant_daily_sandbox_usage using (tenant_id = app_tenant_id()) with check (tenant_id = app_tenant_id());
grant select, insert, update on tenant_daily_usage, tenant_daily_sandbox_usage to ${runtime_role};

-- Refusals carry the quota, its limit and the current value; the server turns this
-- SQLSTATE into QUOTA_EXCEEDED and the transaction, with whatever it tried, rolls back.
create function raise_quota_exceeded(p_quota text, p_limit bigint, p_current bigint) returns void language plpgsql as $$
begin
  raise exception 'quota % exceeded', p_quota
    using errcode = 'SYQ01', detail = json_build_object('quota', p_quota, 'limit', p_limit, 'current', p_current)::text;
end $$;

-- Admits p_started new runs and p_activated runs becoming active (new or retried) for
-- the current tenant. The day counter's row lock serialises admissions of one tenant
-- until commit, so the concurrency count that follows sees every earlier admission.
create function admit_runs(p_started int, p_activated int) returns void language plpgsql as $$
declare
  v_tenant uuid := app_tenant_id();
  v_quotas jsonb;
  v_limit bigint;
  v_count bigint;
begin
  select quotas into v_quotas from tenants where id = v_tenant;
  insert into tenant_daily_usage as d (tenant_id, day, runs_started) values (v_tenant, (now() at time zone 'utc')::date, p_started)
    on conflict (tenant_id, day) do update set runs_started = d.runs_started + excluded.runs_started
    returning runs_started into v_count;
  v_limit := (v_quotas->>'maxRunsPerDay')::bigint;
  if p_started > 0 and v_limit is not null and v_count > v_limit then
    perform raise_quota_exceeded('maxRunsPerDay', v_limit, v_count - p_started);
  end if;
  v_limit := (v_quotas->>'maxConcurrentRuns')::bigint;
  if p_activated > 0 and v_limit is not null then
    select count(*) into v_count from runs where tenant_id = v_tenant and status in ('QUEUED', 'RUNNING', 'WAITING');
    if v_count > v_limit then perform raise_quota_exceeded('maxConcurrentRuns', v_limit, v_count - p_activated); end if;
  end if;
end $$;

-- Every way a run comes into being passes through here, whatever code inserted it.
create function admit_inserted_runs() returns trigger language plpgsql as $$
declare
  r record;
begin
  for r in select tenant_id, count(*)::int as started, count(*) filter (where status in ('QUEUED', 'RUNNING', 'WAITING'))::int as active
             from inserted_runs group by tenant_id loop
    if r.tenant_id is distinct from app_tenant_id() then
      raise exception 'runs of tenant % inserted outside its context', r.tenant_id using errcode = 'insufficient_privilege';
    end if;
    perform admit_runs(r.started, r.active);
  end loop;
  return null;
end $$;
create trigger runs_admit after insert on runs referencing new table as inserted_runs
  for each statement execute function admit_inserted_runs();

grant execute on function admit_runs(int, int), raise_quota_exceeded(text, bigint, bigint) to ${runtime_role};

-- Existing runs count toward today's starts from now on only; concurrency needs no backfill.
