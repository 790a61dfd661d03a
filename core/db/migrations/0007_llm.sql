-- Model token usage, metered per tenant, UTC day and model.
create table llm_usage (
  tenant_id uuid not null references tenants(id),
  day date not null,
  model text not null,
  calls int not null default 0,
  cached_calls int not null default 0,
  prompt_tokens bigint not null default 0,
  completion_tokens bigint not null default 0,
  primary key (tenant_id, day, model)
);

-- Opt-in response cache of llm/chat (cacheTtlSeconds > 0), per tenant: never shared across tenants.
create table llm_response_cache (
  tenant_id uuid not null references tenants(id),
  -- SHA-256 over the credential, model, messages and parameters.
  cache_key text not null,
  output jsonb not null,
  expires_at timestamptz not null,
  primary key (tenant_id, cache_key)
);
create index llm_response_cache_expiry_idx on llm_response_cache (expires_at);
