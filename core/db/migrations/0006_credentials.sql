-- Tenant credentials, encrypted at rest. Each tenant has data keys (AES-256) wrapped by
-- the appliance master key (a key file outside the database); rotating the master key
-- re-wraps the data keys and leaves every credential's ciphertext as it is.
create table tenant_data_keys (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  -- Which master key wraps this data key (the key file may hold several during a rotation).
  master_key_id text not null,
  -- AES-256-GCM: iv (12 bytes) || tag (16 bytes) || ciphertext of the 32-byte data key.
  wrapped_key bytea not null,
  active boolean not null default true,
  created_at timestamptz not null default now()
);
create unique index tenant_data_keys_active_idx on tenant_data_keys (tenant_id) where active;

create table credentials (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  name text not null check (name ~ '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$'),
  type text not null,
  -- Settings that are not secret (a base URL, a header name); plugins may read them.
  config jsonb not null default '{}',
  allowed_hosts text[] not null,
  data_key_id uuid not null references tenant_data_keys(id),
  -- AES-256-GCM of the secret's JSON: iv || tag || ciphertext; the AAD binds it to this row.
  secret_ciphertext bytea not null,
  created_at timestamptz not null default now(),
  created_by uuid,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  unique (tenant_id, name)
);

-- A step attempt's right to use one credential: bound to tenant, run, step, attempt and
-- plugin version, void after expires_at. Only the handle's hash is stored.
create table credential_leases (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  credential_id uuid not null references credentials(id) on delete cascade,
  run_id uuid not null,
  step_id text not null,
  attempt int not null,
  plugin_version_id uuid not null,
  handle_hash bytea not null unique,
  issued_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index credential_leases_run_idx on credential_leases (run_id, step_id);
