-- Tenant isolation enforced by PostgreSQL.
--
-- The server connects as a runtime role (${runtime_role}) that owns nothing and cannot
-- bypass row-level security; migrations run as the owner (${owner_role}). Each tenant
-- transaction sets app.tenant_id with set_config(..., true), which lasts for that
-- transaction only, so a pooled connection never carries one tenant's context into
-- another's work. With no tenant set, every tenant row is invisible (fail closed).

create function app_tenant_id() returns uuid language sql stable parallel safe as $$
  select nullif(current_setting('app.tenant_id', true), '')::uuid
$$;

-- Tables whose every row belongs to one tenant.
do $$
declare
  t text;
begin
  foreach t in array array['workflows', 'workflow_versions', 'runs', 'step_executions', 'run_events',
                           'tenant_data_keys', 'credentials', 'credential_leases', 'llm_usage', 'llm_response_cache'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format('create policy tenant_isolation on %I using (tenant_id = app_tenant_id()) with check (tenant_id = app_tenant_id())', t);
  end loop;
end $$;

-- Tables that also hold appliance-wide rows (tenant_id null: system-admin tokens, events
-- of the appliance itself). Those rows are visible only outside any tenant's context.
do $$
declare
  t text;
begin
  foreach t in array array['api_tokens', 'audit_events'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format('create policy tenant_isolation on %I using (tenant_id is not distinct from app_tenant_id()) with check (tenant_id is not distinct from app_tenant_id())', t);
  end loop;
end $$;

-- The few questions that must look across tenants are answered by these functions, which
-- run as the owner and return no tenant data beyond what each needs. The owner may read
-- the rows they look at (FORCE makes policies apply to the owner too).
create policy owner_lookup on api_tokens for select to ${owner_role} using (true);
create policy owner_lookup on runs for select to ${owner_role} using (true);
create policy owner_lookup on workflow_versions for select to ${owner_role} using (true);
create policy owner_lookup on tenant_data_keys for select to ${owner_role} using (true);

-- Authentication happens before the tenant is known: the token's hash is the key.
create function find_api_token(p_hash bytea)
  returns table (id uuid, tenant_id uuid, role text, name text, prefix text, created_at timestamptz,
                 expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz)
  language sql stable security definer set search_path = pg_catalog, public as $$
  select id, tenant_id, role, name, prefix, created_at, expires_at, revoked_at, last_used_at
    from api_tokens where token_hash = p_hash
$$;

-- A system admin revoking a token by id must learn which tenant's context to act in.
create function api_token_tenant(p_id uuid) returns table (tenant_id uuid)
  language sql stable security definer set search_path = pg_catalog, public as $$
  select tenant_id from api_tokens where id = p_id
$$;

-- The sweeper times out overdue runs; each timeout then runs in its tenant's context.
create function overdue_runs(p_limit int) returns table (tenant_id uuid, id uuid)
  language sql stable security definer set search_path = pg_catalog, public as $$
  select tenant_id, id from runs
   where status in ('QUEUED', 'RUNNING', 'WAITING') and deadline_at <= now()
   order by deadline_at limit p_limit
$$;

-- Removing a plugin version is refused while any tenant's published workflow pins it.
create function plugin_version_use_count(p_plugin_version_id uuid) returns int
  language sql stable security definer set search_path = pg_catalog, public as $$
  select count(*)::int from workflow_versions v
   where exists (select 1 from jsonb_each_text(v.resolved_actions) e where e.value = p_plugin_version_id::text)
$$;

-- Pruning old master keys needs to know which still wrap a data key (ids only).
create function master_keys_in_use() returns table (master_key_id text)
  language sql stable security definer set search_path = pg_catalog, public as $$
  select distinct master_key_id from tenant_data_keys
$$;

revoke all on function find_api_token(bytea), api_token_tenant(uuid), overdue_runs(int),
  plugin_version_use_count(uuid), master_keys_in_use() from public;
grant execute on function app_tenant_id(), find_api_token(bytea), api_token_tenant(uuid), overdue_runs(int),
  plugin_version_use_count(uuid), master_keys_in_use() to ${runtime_role};

-- What the runtime role may do: no table is deletable or updatable where the product
-- never deletes or updates (events, versions, audit), and it can create nothing.
revoke create on schema public from public;
grant usage on schema public to ${runtime_role};
grant select on switchyard_migrations to ${runtime_role};
grant select, insert, update on tenants to ${runtime_role};
grant select, insert, update on api_tokens to ${runtime_role};
grant select, insert, update on workflows to ${runtime_role};
grant select, insert on workflow_versions to ${runtime_role};
grant select, insert, update on runs to ${runtime_role};
grant select, insert, update on step_executions to ${runtime_role};
grant select, insert on run_events to ${runtime_role};
grant select, insert on audit_events to ${runtime_role};
grant select, insert, delete on engine_nodes, engine_node_workers to ${runtime_role};
grant select, insert, delete on plugin_versions to ${runtime_role};
grant select, insert, update on plugin_policies to ${runtime_role};
grant select, insert, update on tenant_data_keys to ${runtime_role};
grant select, insert, update, delete on credentials to ${runtime_role};
grant select, insert, update on credential_leases to ${runtime_role};
grant select, insert, update on llm_usage to ${runtime_role};
grant select, insert, update, delete on llm_response_cache to ${runtime_role};
-- The job queue's privileges are granted after graphile-worker's own migrations (migrate.ts).
