-- The engine's hot path writes a step row update, two or more event rows and a run row
-- update per step, from many concurrent transactions of one tenant. Each foreign-key
-- check takes FOR KEY SHARE on the referenced row; checks on the one tenant row (and the
-- one workflow version row) from concurrent transactions turn into MultiXact locks,
-- which cost more than the writes themselves.

-- Events and steps reach their tenant through their run, whose row every writer holds
-- locked; the checks against the run stay (and are cheap for the lock holder).
alter table run_events drop constraint run_events_tenant_id_fkey;
alter table step_executions drop constraint step_executions_tenant_id_fkey;

-- A run's tenant, workflow and version are checked together against the version row:
-- one check instead of three, and stronger (the three must agree).
alter table workflow_versions add constraint workflow_versions_identity_key unique (id, tenant_id, workflow_id);
alter table runs drop constraint runs_tenant_id_fkey;
alter table runs drop constraint runs_workflow_id_fkey;
alter table runs drop constraint runs_workflow_version_id_fkey;
alter table runs add constraint runs_workflow_version_fkey
  foreign key (workflow_version_id, tenant_id, workflow_id) references workflow_versions (id, tenant_id, workflow_id);

-- Audit records outlive what they describe: no reference may block or cascade from them.
alter table audit_events drop constraint audit_events_tenant_id_fkey;

-- Room on each page for updated row versions, so updates that change no indexed column
-- (a step's status and output, a run's version) stay heap-only (HOT).
alter table runs set (fillfactor = 80);
alter table step_executions set (fillfactor = 70);
