-- The administrator's policy for a plugin (all its versions): which hosts it may reach
-- (intersected with what its manifest asks for), which internal hosts or CIDRs it may
-- reach although they resolve to loopback or private addresses, and whether its request
-- for raw secret access is approved. No row: public hosts the manifest names, nothing internal.
create table plugin_policies (
  plugin_name text primary key,
  allowed_hosts text[] not null default '{*}',
  allowed_private text[] not null default '{}',
  raw_secret_access_approved boolean not null default false,
  updated_at timestamptz not null default now(),
  updated_by uuid
);
