-- Audit export bundles made by exportAuditReport (core/audit/export.ts). The bundle is a
-- file in the appliance's data directory; this row says whose it is and its digest.
create table audit_exports (
  id uuid primary key,
  tenant_id uuid references tenants(id),
  created_by uuid,
  query jsonb not null,
  sha256 text not null,
  bytes bigint not null,
  event_count bigint not null,
  created_at timestamptz not null,
  expires_at timestamptz not null
);
alter table audit_exports enable row level security;
alter table audit_exports force row level security;
create policy tenant_isolation on audit_exports using (tenant_id is not distinct from app_tenant_id()) with check (tenant_id is not distinct from app_tenant_id());
create policy owner_lookup on audit_exports for select to ${owner_role} using (true);
grant select, insert on audit_exports to ${runtime_role};

-- A system admin downloads the exports it made, of whichever tenant's chain.
create function audit_export_made_by(p_id uuid, p_token uuid)
  returns table (tenant_id uuid, sha256 text, expires_at timestamptz, created_by uuid)
  language sql stable security definer set search_path = pg_catalog, public as $$
  select tenant_id, sha256, expires_at, created_by from audit_exports where id = p_id and created_by = p_token
$$;
revoke all on function audit_export_made_by(uuid, uuid) from public;
grant execute on function audit_export_made_by(uuid, uuid) to ${runtime_role};
