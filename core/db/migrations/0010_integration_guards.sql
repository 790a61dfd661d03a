-- Integration guards: per tenant and host pattern, a rate limit and a circuit breaker that
-- protect the hosts a tenant's plugin steps call (and the tenant's standing with them).
-- The administrator's settings and the breaker's state share a row: the state belongs to
-- the guard and goes with it. Token buckets are kept in each engine process, not here;
-- the breaker and an upstream's Retry-After are shared by every process through this row.

create table integration_guards (
  tenant_id uuid not null references tenants(id),
  -- A host pattern as allow lists write it (`api.example.com`, `*.example.com`, `host:port`).
  host text not null,
  -- Null together: no rate limit, only the breaker.
  rate_per_second double precision check (rate_per_second > 0),
  burst int check (burst >= 1),
  failure_threshold int not null check (failure_threshold >= 1),
  cool_down_seconds int not null check (cool_down_seconds >= 1),
  state text not null default 'CLOSED' check (state in ('CLOSED', 'OPEN', 'HALF_OPEN')),
  consecutive_failures int not null default 0 check (consecutive_failures >= 0),
  opened_at timestamptz,
  -- OPEN: when the next request may be the trial.
  retry_at timestamptz,
  -- HALF_OPEN: the trial request in flight holds the breaker until then (a trial whose
  -- outcome never comes back, its process gone, does not hold it forever).
  trial_until timestamptz,
  -- The upstream asked (429, or 503 with Retry-After) to hear nothing before then.
  held_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  updated_by uuid,
  primary key (tenant_id, host),
  check ((rate_per_second is null) = (burst is null))
);

alter table integration_guards enable row level security;
alter table integration_guards force row level security;
create policy tenant_isolation on integration_guards using (tenant_id = app_tenant_id()) with check (tenant_id = app_tenant_id());
grant select, insert, update, delete on integration_guards to ${runtime_role};
