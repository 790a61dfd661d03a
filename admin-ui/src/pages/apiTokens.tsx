/** Tokens: a tenant administrator's tenant tokens, or the system administrators' own. */
import { Page, Section } from '../components.js';
import { currentSession } from '../session.js';
import { ApiTokenList, TENANT_ROLES } from '../apiTokenList.js';

export function TokensPage() {
  const tenant = currentSession()?.viewer.tenant ?? null;
  return (
    <Page title="Tokens">
      <Section title={tenant ? `Tokens of ${tenant.name}` : 'System administrator tokens'}>
        <p class="muted">
          {tenant
            ? 'Each token acts with its role in this tenant only.'
            : 'These tokens administer the whole appliance; they belong to no tenant.'}
        </p>
        <ApiTokenList tenantId={tenant?.id ?? null} roles={tenant ? TENANT_ROLES : ['SYSTEM_ADMIN']} />
      </Section>
    </Page>
  );
}
