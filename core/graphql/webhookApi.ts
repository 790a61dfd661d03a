import type { ApiModule } from './apiModule.js';
import type { GraphQLContext } from './context.js';
import type { WebhookTrigger } from '../triggers/webhookStore.js';

/** Webhook triggers in the API: a workflow's signed inbound URLs (README: Webhook triggers). */
export const webhookApi: ApiModule = {
  resolvers: {
    Query: {
      webhookTriggers: (_p, a, { request, services }) => services.webhooks.list(request, a.workflowId ?? null),
      webhookTrigger: (_p, a, { request, services }) => services.webhooks.get(request, a.id),
    },
    Mutation: {
      createWebhookTrigger: (_p, a, { request, services }) => services.webhooks.create(request, a.input),
      updateWebhookTrigger: (_p, a, { request, services }) => {
        const { id, ...changes } = a.input as { id: string } & Record<string, unknown>;
        return services.webhooks.update(request, id, changes);
      },
      rotateWebhookTriggerSecret: (_p, a, { request, services }) =>
        services.webhooks.rotateSecret(request, a.input.id, a.input.previousSecretValidSeconds),
      deleteWebhookTrigger: (_p, a, { request, services }) => services.webhooks.delete(request, a.id),
    },
    Workflow: {
      webhookTriggers: (w: { id: string }, _a, { request, services }) => services.webhooks.list(request, w.id),
    },
    WebhookTrigger: {
      url: (t: WebhookTrigger, _a, { services }: GraphQLContext) => services.webhooks.url(t),
      workflow: (t: WebhookTrigger, _a, { request, services }: GraphQLContext) => services.workflows.get(request, t.workflowId),
    },
  },
};
