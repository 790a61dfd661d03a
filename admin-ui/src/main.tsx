/** The console's entry: restores the tab's session, then routes to the page the hash names. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Layout, homePath } from './layout.js';
import { Empty, Loading, Page } from './components.js';
import { useRoute, type Route } from './router.js';
import { currentSession, currentToken, endSession, onSessionChange } from './session.js';
import { SignIn, signIn } from './pages/signIn.js';
import { OverviewPage } from './pages/overview.js';
import { WorkflowsPage } from './pages/workflows.js';
import { WorkflowPage } from './pages/workflow.js';
import { RunsPage } from './pages/runs.js';
import { RunPage } from './pages/run.js';
import { PluginsPage } from './pages/plugins.js';
import { CredentialsPage } from './pages/credentials.js';
import { TenantsPage } from './pages/tenantAdmin.js';
import { TokensPage } from './pages/apiTokens.js';
import { AuditPage } from './pages/auditLog.js';

function pageFor(route: Route) {
  const [section, id] = route.path;
  switch (section) {
    case 'overview':
      return <OverviewPage />;
    case 'workflows':
      return id ? <WorkflowPage id={id} query={route.query} /> : <WorkflowsPage />;
    case 'runs':
      return id ? <RunPage id={id} /> : <RunsPage query={route.query} />;
    case 'plugins':
      return <PluginsPage />;
    case 'credentials':
      return <CredentialsPage />;
    case 'tenants':
      return <TenantsPage />;
    case 'tokens':
      return <TokensPage />;
    case 'audit':
      return <AuditPage query={route.query} />;
    default:
      return (
        <Page title="Not found">
          <Empty>There is no page at this address.</Empty>
        </Page>
      );
  }
}

function App() {
  const route = useRoute();
  const [session, setSession] = useState(currentSession);
  const [notice, setNotice] = useState<string | null>(null);
  const [restoring, setRestoring] = useState(() => !currentSession() && currentToken() !== null);
  useEffect(
    () =>
      onSessionChange((s, reason) => {
        setSession(s);
        setNotice(reason);
      }),
    [],
  );
  useEffect(() => {
    const stored = currentToken();
    if (!restoring || !stored) return;
    // A token from this tab's earlier page load: ask the API whose it is, as at sign-in.
    signIn(stored)
      .catch(() => endSession('Your session has ended. Sign in again.'))
      .finally(() => setRestoring(false));
  }, []);
  if (restoring) return <Loading what="your session" />;
  if (!session) return <SignIn notice={notice} />;
  if (route.path.length === 0) {
    location.replace(`#/${homePath()}`);
    return <Loading what="the console" />;
  }
  return <Layout current={route.path[0] ?? ''}>{pageFor(route)}</Layout>;
}

const root = document.getElementById('app')!;
// The static "Loading" text is there only until the scripts run.
root.replaceChildren();
render(<App />, root);
