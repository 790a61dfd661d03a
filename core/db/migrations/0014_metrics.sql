-- What /metrics reads across tenants without a tenant context: aggregates only, through
-- security-definer functions the runtime role may call, never the rows themselves.

-- integration_guards forces row-level security on its owner too; this policy lets the
-- owner's functions below read it.
create policy owner_metrics on integration_guards for select to ${owner_role} using (true);

-- Circuit breakers in each state, appliance-wide.
create function circuit_breaker_counts() returns table (state text, breakers int)
  language sql stable security definer set search_path = pg_catalog, public as $$
  select s.state, count(g.state)::int
    from (values ('CLOSED'), ('OPEN'), ('HALF_OPEN')) as s(state)
    left join integration_guards g on g.state = s.state
   group by s.state
$$;

revoke all on function circuit_breaker_counts() from public;
grant execute on function circuit_breaker_counts() to ${runtime_role};
