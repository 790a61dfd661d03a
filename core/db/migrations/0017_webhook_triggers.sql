-- Webhook triggers: a workflow's signed inbound URL. The public id is the unguessable part
-- of /hooks/<public id>; the signing secret is sealed under the tenant's data key like a
-- credential (AES-256-GCM, the AAD naming the trigger), and during a rotation the previous
-- one stays valid until previous_secret_expires_at.
create table webhook_triggers (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  workflow_id uuid not null references workflows(id) on delete cascade,
  name text not null,
  public_id text not null unique,
  -- Null: the workflow's latest version when the delivery arrives.
  version int check (version >= 1),
  enabled boolean not null default true,
  max_body_bytes int not null check (max_body_bytes >= 1),
  replay_window_seconds int not null check (replay_window_seconds >= 1),
  -- IPs and CIDRs; empty: any source.
  allowed_sources text[] not null default '{}',
  delivery_id_header text not null,
  -- Null: the JSON body is the run input.
  input_mapping jsonb,
  data_key_id uuid not null references tenant_data_keys(id),
  secret_ciphertext bytea not null,
  previous_secret_ciphertext bytea,
  previous_secret_expires_at timestamptz,
  secret_rotated_at timestamptz,
  created_at timestamptz not null default now(),
  created_by uuid,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  unique (tenant_id, workflow_id, name),
  check ((previous_secret_ciphertext is null) = (previous_secret_expires_at is null))
);
create index webhook_triggers_workflow on webhook_triggers (tenant_id, workflow_id);

alter table webhook_triggers enable row level security;
alter table webhook_triggers force row level security;
create policy tenant_isolation on webhook_triggers using (tenant_id = app_tenant_id()) with check (tenant_id = app_tenant_id());
create policy owner_lookup on webhook_triggers for select to ${owner_role} using (true);
grant select, insert, update, delete on webhook_triggers to ${runtime_role};

-- A delivery names only the public id: which tenant's trigger it is must be learnt before
-- the tenant's context can be set. Nothing else of the row is returned.
create function webhook_trigger_tenant(p_public_id text) returns table (id uuid, tenant_id uuid)
  language sql stable security definer set search_path = pg_catalog, public as $$
  select id, tenant_id from webhook_triggers where public_id = p_public_id
$$;
revoke all on function webhook_trigger_tenant(text) from public;
grant execute on function webhook_trigger_tenant(text) to ${runtime_role};
