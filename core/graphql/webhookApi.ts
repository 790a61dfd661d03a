import type { ApiModule } from './apiModule.js';
import type { GraphQLContext } from './context.js';
import type { WebhookTrigger } from '../triggers/webhookStore.js';

/** Webhook triggers in the API: a workflow's signed inbound URLs (README: Webhook triggers). */
export const webhookApi: ApiModule = {
  typeDefs: /* GraphQL */ `
    type WebhookTrigger {
      id: ID!
      name: String!
      workflow: Workflow!
      "Null: the workflow's latest version when a delivery arrives."
      version: Int
      "A disabled trigger answers 404, like an unknown address."
      enabled: Boolean!
      "Where the sender POSTs its deliveries."
      url: String!
      maxBodyBytes: Int!
      "Signed timestamps further than this from the appliance's clock are refused."
      replayWindowSeconds: Int!
      "IPs and CIDR ranges deliveries may come from; empty: any."
      allowedSources: [String!]!
      "The header whose value identifies a delivery; a repeated delivery id returns the run it started."
      deliveryIdHeader: String!
      "A JSON template over body, headers and query; null: the JSON body is the run input."
      inputMapping: JSON
      secretRotatedAt: DateTime
      "While set, the previous secret still verifies deliveries until then."
      previousSecretExpiresAt: DateTime
      createdAt: DateTime!
      updatedAt: DateTime!
    }
    type CreatedWebhookTrigger {
      trigger: WebhookTrigger!
      "Shown once: the HMAC-SHA256 signing secret. Only a sealed copy is stored."
      secret: String!
    }
    input CreateWebhookTriggerInput {
      workflowId: ID!
      name: String!
      version: Int
      enabled: Boolean
      maxBodyBytes: Int
      replayWindowSeconds: Int
      allowedSources: [String!]
      deliveryIdHeader: String
      inputMapping: JSON
    }
    "Omitted fields are unchanged; version null follows the latest, inputMapping null maps the body."
    input UpdateWebhookTriggerInput {
      id: ID!
      name: String
      version: Int
      enabled: Boolean
      maxBodyBytes: Int
      replayWindowSeconds: Int
      allowedSources: [String!]
      deliveryIdHeader: String
      inputMapping: JSON
    }
    input RotateWebhookTriggerSecretInput {
      id: ID!
      "0 (default): the old secret stops at once; at most 604800 (7 days)."
      previousSecretValidSeconds: Int
    }

    extend type Workflow {
      webhookTriggers: [WebhookTrigger!]!
    }
    extend type Query {
      "Addition. The tenant's webhook triggers, of one workflow when given."
      webhookTriggers(workflowId: ID): [WebhookTrigger!]!
      webhookTrigger(id: ID!): WebhookTrigger
    }
    extend type Mutation {
      "Addition. ADMIN, EDITOR. The answer holds the signing secret, shown once."
      createWebhookTrigger(input: CreateWebhookTriggerInput!): CreatedWebhookTrigger!
      "Addition. ADMIN, EDITOR."
      updateWebhookTrigger(input: UpdateWebhookTriggerInput!): WebhookTrigger!
      "Addition. ADMIN, EDITOR. A new secret, shown once."
      rotateWebhookTriggerSecret(input: RotateWebhookTriggerSecretInput!): CreatedWebhookTrigger!
      "Addition. ADMIN, EDITOR."
      deleteWebhookTrigger(id: ID!): WebhookTrigger!
    }
  `,
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
