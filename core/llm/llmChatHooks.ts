import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Database, Queryable } from '../db/database.js';
import { canonicalJson } from '../canonicalJson.js';
import { StepError } from '../engine/executor.js';
import type { ActionCall, ActionHooks } from '../plugins/types.js';

interface ChatInput {
  model: string;
  prompt?: string;
  messages?: unknown[];
  temperature?: number;
  maxTokens?: number;
  responseSchema?: Record<string, unknown>;
  cacheTtlSeconds?: number;
}

interface ChatOutput {
  text: string;
  json: unknown;
  usage: { promptTokens: number; completionTokens: number };
  cached: boolean;
}

// Tenant-written schemas are compiled in the engine process: keep them small.
const MAX_RESPONSE_SCHEMA_BYTES = 64 * 1024;

/**
 * The host side of llm/chat@1: the opt-in per-tenant response cache, the check of the
 * answer against `responseSchema`, and token metering per tenant, day and model.
 */
export class LlmChatHooks implements ActionHooks {
  private readonly ajv = new Ajv({ strict: false, allErrors: false });
  private readonly schemas = new Map<string, ValidateFunction>();

  constructor(private readonly db: Database) {}

  async before(call: ActionCall): Promise<unknown> {
    const input = call.input as ChatInput;
    // A schema that cannot compile is refused before the model spends a token.
    if (input.responseSchema !== undefined) this.schema(input.responseSchema);
    if (!input.cacheTtlSeconds) return undefined;
    const { rows } = await this.db.query<{ output: ChatOutput }>(
      { tenantId: call.tenantId },
      'select output from llm_response_cache where tenant_id = $1 and cache_key = $2 and expires_at > now()',
      [call.tenantId, cacheKey(call)],
    );
    const hit = rows[0]?.output;
    if (!hit) return undefined;
    await this.meter(call.tenantId, input.model, hit.usage, true);
    return { ...hit, cached: true };
  }

  async after(call: ActionCall, output: unknown): Promise<unknown> {
    const input = call.input as ChatInput;
    const answer = output as ChatOutput;
    const validate = input.responseSchema !== undefined ? this.schema(input.responseSchema) : null;
    const matches = validate === null || validate(answer.json);
    // The model spent its tokens whether or not the answer fits: meter first.
    await this.db.tx({ tenantId: call.tenantId }, async (q) => {
      await this.meter(call.tenantId, input.model, answer.usage, false, q);
      if (matches && input.cacheTtlSeconds) {
        await q.query(
          `insert into llm_response_cache (tenant_id, cache_key, output, expires_at) values ($1, $2, $3, now() + make_interval(secs => $4))
           on conflict (tenant_id, cache_key) do update set output = excluded.output, expires_at = excluded.expires_at`,
          [call.tenantId, cacheKey(call), JSON.stringify(answer), input.cacheTtlSeconds],
        );
      }
    });
    if (!matches) {
      // Retryable, as the catalogue says: a model may well answer correctly next time.
      throw new StepError(
        'LLM_SCHEMA_MISMATCH',
        `the model's answer does not match responseSchema: ${this.ajv.errorsText(validate!.errors, { dataVar: 'answer' })}`,
      );
    }
    return answer;
  }

  private async meter(
    tenantId: string,
    model: string,
    usage: ChatOutput['usage'],
    cached: boolean,
    q: Queryable | null = null,
  ): Promise<void> {
    const sql = `insert into llm_usage (tenant_id, day, model, calls, cached_calls, prompt_tokens, completion_tokens)
                 values ($1, (now() at time zone 'utc')::date, $2, $3, $4, $5, $6)
                 on conflict (tenant_id, day, model) do update set calls = llm_usage.calls + excluded.calls,
                   cached_calls = llm_usage.cached_calls + excluded.cached_calls,
                   prompt_tokens = llm_usage.prompt_tokens + excluded.prompt_tokens,
                   completion_tokens = llm_usage.completion_tokens + excluded.completion_tokens`;
    // A cached answer costs the model nothing: it counts as a call, not as tokens.
    const values = [tenantId, model, cached ? 0 : 1, cached ? 1 : 0, cached ? 0 : usage.promptTokens, cached ? 0 : usage.completionTokens];
    if (q) await q.query(sql, values);
    else await this.db.query({ tenantId }, sql, values);
  }

  private schema(schema: Record<string, unknown>): ValidateFunction {
    const text = canonicalJson(schema);
    if (Buffer.byteLength(text) > MAX_RESPONSE_SCHEMA_BYTES) {
      throw new StepError('BAD_USER_INPUT', `with.responseSchema is larger than ${MAX_RESPONSE_SCHEMA_BYTES} bytes`);
    }
    let validate = this.schemas.get(text);
    if (!validate) {
      try {
        validate = this.ajv.compile(schema);
      } catch (error) {
        throw new StepError('BAD_USER_INPUT', `with.responseSchema is not a valid JSON Schema: ${(error as Error).message}`);
      }
      if (this.schemas.size > 500) this.schemas.clear();
      this.schemas.set(text, validate);
    }
    return validate;
  }
}

/** What makes two requests the same answer: the model server (credential), model, messages and parameters. */
function cacheKey(call: ActionCall): string {
  const input = call.input as ChatInput;
  const messages = input.messages ?? [{ role: 'user', content: input.prompt }];
  return createHash('sha256')
    .update(
      canonicalJson({
        credential: call.credentialName,
        model: input.model,
        messages,
        temperature: input.temperature ?? 0,
        maxTokens: input.maxTokens ?? null,
        responseSchema: input.responseSchema ?? null,
      }),
    )
    .digest('hex');
}
