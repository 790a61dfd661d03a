-- Tamper-evident audit log (core/audit/FEATURE.md).
--
-- Every tenant has its own hash chain, and the appliance one for its own events (tenant
-- null), so one tenant's export verifies without revealing any other tenant's events.
-- Link n of a chain: hash_n = SHA-256(hash_(n-1) || int8 n || content_digest_n), with
-- hash_0 = 32 zero bytes, where content_digest is the SHA-256 of the event's canonical
-- JSON (computed by the appliance, which writes the fields; the verifier recomputes it).
-- The link is made here, by a trigger, under the chain head's row lock, so no writer can
-- choose its own sequence number or hash, and two transactions never share a link.

alter table tenants
  -- Audit events older than this are removed by the retention job, unless on legal hold.
  add column audit_retention_days int not null default 2557 check (audit_retention_days between 1 and 36500),
  add column audit_legal_hold boolean not null default false;

alter table audit_events
  add column chain_seq bigint,
  add column content_digest bytea,
  add column prev_hash bytea,
  add column hash bytea,
  -- A column, not an index expression: under row-level security only leakproof operators
  -- reach an index, and uuid-to-text is not one; text equality is.
  add column chain_key text generated always as (coalesce(tenant_id::text, 'appliance')) stored;
create unique index audit_events_chain_idx on audit_events (chain_key, chain_seq);

create table audit_chains (
  chain_key text primary key,
  tenant_id uuid references tenants(id),
  seq bigint not null,
  prev_hash bytea not null,
  head_hash bytea not null,
  updated_at timestamptz not null,
  check (chain_key = coalesce(tenant_id::text, 'appliance'))
);

-- Signed statements of a chain's head (core/audit/checkpoints.ts).
create table audit_checkpoints (
  id uuid primary key,
  tenant_id uuid references tenants(id),
  seq bigint not null,
  head_hash bytea not null,
  signed_at timestamptz not null,
  key_fingerprint text not null,
  signature bytea not null
);
create unique index audit_checkpoints_chain_idx on audit_checkpoints ((coalesce(tenant_id::text, 'appliance')), seq);

-- Every certificate the appliance has signed checkpoints with, so an export can carry the
-- ones its checkpoints name after the key was replaced. Public data: appliance-wide.
create table audit_signing_keys (
  fingerprint text primary key,
  certificate_pem text not null,
  created_at timestamptz not null default now()
);

do $$
declare
  t text;
begin
  foreach t in array array['audit_chains', 'audit_checkpoints'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format('create policy tenant_isolation on %I using (tenant_id is not distinct from app_tenant_id()) with check (tenant_id is not distinct from app_tenant_id())', t);
  end loop;
end $$;

create function audit_chain_link() returns trigger
  language plpgsql security definer set search_path = pg_catalog, public as $$
declare
  head record;
begin
  if new.content_digest is null or length(new.content_digest) <> 32 then
    raise exception 'audit event % has no content digest', new.id using errcode = 'check_violation';
  end if;
  insert into audit_chains as c (chain_key, tenant_id, seq, prev_hash, head_hash, updated_at)
    values (coalesce(new.tenant_id::text, 'appliance'), new.tenant_id, 1, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
            sha256('\x0000000000000000000000000000000000000000000000000000000000000000'::bytea || int8send(1) || new.content_digest), now())
  on conflict (chain_key) do update
    set seq = c.seq + 1, prev_hash = c.head_hash, head_hash = sha256(c.head_hash || int8send(c.seq + 1) || new.content_digest), updated_at = now()
  returning c.seq, c.prev_hash, c.head_hash into head;
  new.chain_seq := head.seq;
  new.prev_hash := head.prev_hash;
  new.hash := head.head_hash;
  return new;
end $$;
create trigger audit_events_chain before insert on audit_events for each row execute function audit_chain_link();

-- Append-only, even for the owner: only the retention job removes rows, through
-- prune_audit_events, and only rows past their tenant's retention and not on legal hold.
drop trigger audit_events_append_only on audit_events;
create function audit_refuse_change() returns trigger
  language plpgsql security definer set search_path = pg_catalog, public as $$
declare
  keep_days int;
  hold boolean;
begin
  if tg_op = 'DELETE' and current_setting('switchyard.audit_pruning', true) = 'on' then
    select audit_retention_days, audit_legal_hold into keep_days, hold from tenants where id = old.tenant_id;
    if old.tenant_id is null then keep_days := 2557; hold := false; end if;
    if not hold and old.at < now() - make_interval(days => keep_days) then
      return old;
    end if;
    raise exception 'audit event % is within its retention or on legal hold', old.chain_seq using errcode = 'integrity_constraint_violation';
  end if;
  raise exception 'audit_events rows are append-only (% refused)', tg_op using errcode = 'integrity_constraint_violation';
end $$;
create trigger audit_events_append_only before update or delete on audit_events
  for each row execute function audit_refuse_change();
create trigger audit_events_no_truncate before truncate on audit_events
  for each statement execute function audit_refuse_change();
create trigger audit_checkpoints_append_only before update or delete on audit_checkpoints
  for each row execute function refuse_change();
create trigger audit_checkpoints_no_truncate before truncate on audit_checkpoints
  for each statement execute function refuse_change();

-- The retention job: removes the oldest events of the chain in context, up to p_limit,
-- that are past retention; returns what it removed so the caller records it in the same
-- transaction (the chain then starts from the last removed hash, which that record names).
create function prune_audit_events(p_limit int)
  returns table (removed bigint, first_seq bigint, last_seq bigint, last_hash bytea)
  language plpgsql security definer set search_path = pg_catalog, public as $$
declare
  keep_days int := 2557;
  hold boolean := false;
begin
  if app_tenant_id() is not null then
    select audit_retention_days, audit_legal_hold into keep_days, hold from tenants where id = app_tenant_id();
  end if;
  if hold then
    return query select 0::bigint, null::bigint, null::bigint, null::bytea;
    return;
  end if;
  -- Linking takes the same lock: no event is linked to one this removes.
  perform 1 from audit_chains where chain_key = coalesce(app_tenant_id()::text, 'appliance') for update;
  perform set_config('switchyard.audit_pruning', 'on', true);
  return query
    with doomed as (
      -- Only a prefix of the chain: never an old event that a newer one precedes.
      select seq from audit_events
       where chain_key = coalesce(app_tenant_id()::text, 'appliance') and chain_seq is not null
         and chain_seq < coalesce((select min(chain_seq) from audit_events
                                    where chain_key = coalesce(app_tenant_id()::text, 'appliance') and at >= now() - make_interval(days => keep_days)), 9223372036854775807)
       order by chain_seq limit p_limit
    ), gone as (
      delete from audit_events e using doomed d where e.seq = d.seq returning e.chain_seq, e.hash
    )
    select count(*)::bigint, min(chain_seq), max(chain_seq), (select g.hash from gone g order by g.chain_seq desc limit 1) from gone;
  perform set_config('switchyard.audit_pruning', 'off', true);
end $$;

-- The checkpoint job finds the chains that have grown since their last checkpoint.
create function audit_chains_due(p_events bigint, p_interval interval)
  returns table (tenant_id uuid, seq bigint)
  language sql stable security definer set search_path = pg_catalog, public as $$
  select c.tenant_id, c.seq from audit_chains c
    left join lateral (select max(k.seq) as seq, max(k.signed_at) as signed_at from audit_checkpoints k
                        where k.tenant_id is not distinct from c.tenant_id) last on true
   where c.seq > coalesce(last.seq, 0)
     and (c.seq - coalesce(last.seq, 0) >= p_events
          or coalesce(last.signed_at, (select e.at from audit_events e where e.chain_key = c.chain_key
                                        order by e.chain_key, e.chain_seq limit 1)) <= now() - p_interval)
$$;

-- The owner's functions above read across tenants.
create policy owner_lookup on audit_chains for all to ${owner_role} using (true) with check (true);
create policy owner_lookup on audit_checkpoints for select to ${owner_role} using (true);
create policy owner_lookup on audit_events for select to ${owner_role} using (true);
create policy owner_delete on audit_events for delete to ${owner_role} using (true);

revoke all on function audit_chain_link(), audit_refuse_change(), prune_audit_events(int), audit_chains_due(bigint, interval) from public;
grant execute on function prune_audit_events(int), audit_chains_due(bigint, interval) to ${runtime_role};
grant select on audit_chains to ${runtime_role};
grant select, insert on audit_checkpoints to ${runtime_role};
grant select, insert on audit_signing_keys to ${runtime_role};
