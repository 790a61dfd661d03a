import type { Database } from '../db/database.js';
import { tenantOf, type RequestContext } from '../auth/roles.js';

export interface LlmUsage {
  day: string;
  model: string;
  calls: number;
  cachedCalls: number;
  promptTokens: number;
  completionTokens: number;
}

/** The tenant's metered model usage per UTC day and model, newest first. */
export async function listLlmUsage(db: Database, ctx: RequestContext, from: Date | null, to: Date | null): Promise<LlmUsage[]> {
  const tenantId = tenantOf(ctx.actor, 'run:read');
  const { rows } = await db.query<LlmUsage>(
    { tenantId },
    `select to_char(day, 'YYYY-MM-DD') as day, model, calls, cached_calls as "cachedCalls", prompt_tokens as "promptTokens",
            completion_tokens as "completionTokens"
       from llm_usage
      where tenant_id = $1 and ($2::timestamptz is null or day >= ($2::timestamptz at time zone 'utc')::date)
        and ($3::timestamptz is null or day <= ($3::timestamptz at time zone 'utc')::date)
      order by day desc, model limit 1000`,
    [tenantId, from, to],
  );
  return rows;
}
