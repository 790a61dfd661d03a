-- Installed plugin versions. Appliance-wide: system administrators install them, every
-- tenant's workflows may use them. A row never changes once written (a new version is a
-- new row), so processes may cache it by id forever.
create table plugin_versions (
  id uuid primary key,
  name text not null,
  version text not null,
  major int not null,
  publisher text not null,
  -- CORE: ships with the appliance; SIGNED: verified against the trust store; UNSIGNED:
  -- installed under the allowUnsignedPlugins development switch.
  trust text not null check (trust in ('CORE', 'SIGNED', 'UNSIGNED')),
  manifest jsonb not null,
  script text not null,
  script_sha256 text not null,
  package_sha256 text not null,
  publisher_fingerprint text,
  certificate_not_after timestamptz,
  installed_at timestamptz not null default now(),
  installed_by uuid,
  unique (name, version)
);
create index plugin_versions_name_major_idx on plugin_versions (name, major);
create trigger plugin_versions_immutable before update on plugin_versions
  for each row execute function refuse_change();

-- The exact plugin version each action of a published workflow version runs on:
-- { "http/request@1": "<plugin_versions.id>" }. Resolved at publish time so runs of a
-- version keep their plugin versions whatever is installed later.
alter table workflow_versions add column resolved_actions jsonb not null default '{}';
