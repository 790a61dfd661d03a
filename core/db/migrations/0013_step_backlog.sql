-- Per-tenant step backlogs: each tenant keeps at most a configured number of ready jobs in
-- the shared job queue (graphile-worker's jobs table); its further immediate step jobs
-- wait here, in order, and enter the queue as its earlier ones finish.
--
-- Why not leave them in the queue with a lower priority: every fetch walks the queue in
-- priority order, and a fetch that must skip a flood (a tenant at its running-step cap, or
-- the interactive lane looking for its own task) reads every one of the flood's rows. A
-- flood of 20,000 steps made each such fetch cost about 11 ms of database CPU, which is
-- what a quiet tenant waited behind. With the backlog, the queue holds at most the limit
-- per tenant, so fetches cost the same however deep any tenant's backlog is.

create table step_backlog (
  tenant_id uuid not null references tenants(id),
  -- Order of arrival within the tenant.
  id bigint generated always as identity,
  -- The job's graphile-worker key, so cancelling a run removes its backlogged steps too.
  job_key text not null,
  -- The job spec as the engine made it (identifier, payload, max_attempts, job_key, priority, flags).
  job jsonb not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create index step_backlog_job_key on step_backlog (job_key);

alter table step_backlog enable row level security;
alter table step_backlog force row level security;
create policy tenant_isolation on step_backlog using (tenant_id = app_tenant_id()) with check (tenant_id = app_tenant_id());
-- The engine's pump (dispatch_step_backlogs) moves every tenant's backlog as the owner.
create policy owner_dispatch on step_backlog for all to ${owner_role} using (true) with check (true);
-- update: the promotion locks the rows it moves (select ... for update skip locked).
grant select, insert, update, delete on step_backlog to ${runtime_role};

-- A job as the engine's JSON rows describe it, as graphile-worker's add_jobs takes it.
create function step_job_spec(j json) returns graphile_worker.job_spec
  language sql stable set search_path = pg_catalog, public as $$
  select row(j->>'identifier', j->'payload', null, (j->>'run_at')::timestamptz, (j->>'max_attempts')::int, j->>'job_key',
             coalesce((j->>'priority')::int, 0),
             case when json_typeof(j->'flags') = 'array' then array(select json_array_elements_text(j->'flags')) end)::graphile_worker.job_spec
$$;

-- A tenant's jobs in the queue that hold a place there: due now or running (jobs that
-- graphile-worker gave up on stay in its table but hold nothing). Delayed jobs (retries,
-- held-back steps, durable timers) hold no place until they are due. The index on the
-- payload's tenant (sy_jobs_tenant, made by migrate.ts after graphile-worker's own
-- migrations) keeps this a short range scan.
--
-- Due by the clock, not by now(): a transaction that waited for the tenant's lock (below)
-- began before the one it waited for added its jobs, whose run_at is that one's now().
create function ready_step_jobs(p_tenant uuid) returns int
  language sql volatile set search_path = pg_catalog, public as $$
  select count(*)::int from graphile_worker._private_jobs j
   where (j.payload->>'t') = p_tenant::text and j.run_at <= clock_timestamp() and (j.locked_at is not null or j.attempts < j.max_attempts)
$$;

-- Concurrent transactions of one tenant cannot see each other's uncommitted jobs, so two
-- that each counted the same free place would both fill it. A transaction may put back as
-- many jobs as it finishes without coordination; to fill places beyond those it holds the
-- tenant's lock (this key and the hash of the tenant id) until it commits, and counts again.
create function lock_step_backlog(p_tenant uuid) returns void
  language sql volatile set search_path = pg_catalog, public as $$
  select pg_advisory_xact_lock(1937337413, hashtext(p_tenant::text))
$$;

-- Moves up to p_room of a tenant's oldest backlogged jobs into the queue; returns how
-- many. Rows another transaction is moving are skipped, never waited for or moved twice.
create function promote_step_backlog(p_tenant uuid, p_room int) returns int
  language plpgsql set search_path = pg_catalog, public as $$
declare
  v_moved int := 0;
begin
  if p_room <= 0 then return 0; end if;
  with moved as (
    delete from step_backlog b
     where b.tenant_id = p_tenant
       and b.id in (select s.id from step_backlog s where s.tenant_id = p_tenant order by s.id limit p_room for update skip locked)
    returning b.id, b.job)
  select count(*)::int into v_moved
    from graphile_worker.add_jobs(array(select step_job_spec(m.job::json) from moved m order by m.id));
  return v_moved;
end $$;

-- Adds a transaction's jobs for the tenant of the transaction's context. With p_max_ready
-- above 0, the tenant's backlog goes first, then these jobs while the tenant has fewer than
-- p_max_ready ready jobs in the queue; the rest of its immediate jobs wait in the backlog.
-- p_completing: jobs this transaction finishes (still in the queue until graphile-worker
-- deletes them after the commit), whose places it may fill.
create function enqueue_step_jobs(p_jobs json, p_max_ready int, p_completing int) returns int
  language plpgsql set search_path = pg_catalog, public as $$
declare
  v_tenant uuid := app_tenant_id();
  v_immediate int;
  v_room int;
  v_added int := 0;
begin
  if p_max_ready <= 0 or v_tenant is null then
    select count(*)::int into v_added
      from graphile_worker.add_jobs(array(select step_job_spec(e.job) from json_array_elements(p_jobs) with ordinality as e(job, n) order by e.n));
    return v_added;
  end if;
  select count(*)::int into v_immediate from json_array_elements(p_jobs) as e(job) where (e.job->>'run_at') is null;
  v_room := greatest(p_max_ready + p_completing - ready_step_jobs(v_tenant), 0);
  if v_room > p_completing and (v_immediate > p_completing or exists (select 1 from step_backlog b where b.tenant_id = v_tenant)) then
    perform lock_step_backlog(v_tenant);
    -- A statement after the lock sees what the transactions it waited for committed.
    v_room := greatest(p_max_ready + p_completing - ready_step_jobs(v_tenant), 0);
  else
    v_room := least(v_room, p_completing);
  end if;
  v_room := v_room - promote_step_backlog(v_tenant, v_room);
  with e as (
    select j.job, j.n, (j.job->>'run_at') is null as immediate,
           count(*) filter (where (j.job->>'run_at') is null) over (order by j.n) as k
      from json_array_elements(p_jobs) with ordinality as j(job, n)),
  parked as (
    insert into step_backlog (tenant_id, job_key, job)
    select v_tenant, e.job->>'job_key', e.job::jsonb from e where e.immediate and e.k > v_room order by e.n
    returning 1)
  select count(*)::int + (select count(*)::int from parked) into v_added
    from graphile_worker.add_jobs(array(select step_job_spec(e.job) from e where not e.immediate or e.k <= v_room order by e.n));
  return v_added;
end $$;

-- The engine's pump: gives every tenant with a backlog the places it has free. Run
-- periodically, it catches what the per-transaction promotion cannot see (a backlog
-- written at the moment the tenant's last ready job finished, in another transaction).
create function dispatch_step_backlogs(p_max_ready int) returns int
  language plpgsql security definer set search_path = pg_catalog, public as $$
declare
  v_tenant uuid;
  v_total int := 0;
begin
  for v_tenant in
    -- Distinct tenants by skipping along the primary key, not reading every backlogged row.
    with recursive ts as (
      (select tenant_id from step_backlog order by tenant_id limit 1)
      union all
      select (select b.tenant_id from step_backlog b where b.tenant_id > ts.tenant_id order by b.tenant_id limit 1) from ts where ts.tenant_id is not null)
    select tenant_id from ts where tenant_id is not null
  loop
    -- A tenant whose lock is held is being promoted by its own transaction.
    if pg_try_advisory_xact_lock(1937337413, hashtext(v_tenant::text)) then
      v_total := v_total + promote_step_backlog(v_tenant, greatest(p_max_ready - ready_step_jobs(v_tenant), 0));
    end if;
  end loop;
  return v_total;
end $$;

-- Steps waiting for a worker, queue and backlogs together, counted up to p_cap (admission control).
create function waiting_step_jobs(p_cap int) returns int
  language sql stable security definer set search_path = pg_catalog, public as $$
  select (select count(*) from (select 1 from graphile_worker._private_jobs where is_available and run_at <= now() limit p_cap) q)::int
       + (select count(*) from (select 1 from step_backlog limit p_cap) b)::int
$$;

revoke all on function dispatch_step_backlogs(int), waiting_step_jobs(int) from public;
grant execute on function step_job_spec(json), ready_step_jobs(uuid), lock_step_backlog(uuid), promote_step_backlog(uuid, int), enqueue_step_jobs(json, int, int),
  dispatch_step_backlogs(int), waiting_step_jobs(int) to ${runtime_role};
