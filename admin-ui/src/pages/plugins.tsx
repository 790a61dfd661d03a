/**
 * Installed plugins, grouped by name with every version side by side: who published it, how
 * far it is trusted, what it may reach and what it may use. System administrators see each
 * plugin's policy and install packages, which are verified and shown before they install.
 */
import { useRef, useState } from 'preact/hooks';
import { gql } from '../api.js';
import { ErrorBox, Field, Guard, Loading, Page, Section, Status, Table, Time, useAction, useLoad } from '../components.js';
import {
  PluginsInstallDocument,
  PluginsListDocument,
  PluginsVerifyDocument,
  type PluginsActionFragment,
  type PluginsListQuery,
  type PluginsPermissionsFragment,
  type PluginsResourcesFragment,
  type PluginsVerifyQuery,
} from '../gql/graphql.js';
import { can } from '../session.js';

type Permissions = PluginsPermissionsFragment;
type Resources = PluginsResourcesFragment;
type Action = PluginsActionFragment;
type Plugin = PluginsListQuery['plugins'][number];
type Policy = NonNullable<Plugin['policy']>;
type PackageCheck = PluginsVerifyQuery['verifyPluginPackage'];

const ms = (value: number) => (value < 1000 ? `${value} ms` : `${+(value / 1000).toFixed(1)} s`);
const bytes = (value: number) =>
  value < 1024 ? `${value} B` : value < 1024 * 1024 ? `${+(value / 1024).toFixed(1)} KiB` : `${+(value / 1024 / 1024).toFixed(1)} MiB`;

function Fingerprint({ value, full = false }: { value: string | null; full?: boolean }) {
  if (!value) return <span class="muted">none</span>;
  const grouped = value.match(/.{1,2}/g)?.join(':') ?? value;
  return full ? (
    <code class="fingerprint">{grouped}</code>
  ) : (
    <code class="fingerprint" title={value}>
      {value.slice(0, 16)}…
    </code>
  );
}

const limitValue = (v: number | null, format: (n: number) => string) => (v === null || v === undefined ? null : format(v));

function limitsOf(r: Resources): [string, string | null][] {
  return [
    ['Memory', limitValue(r.memoryMb, (n) => `${n} MB`)],
    ['Timeout', limitValue(r.timeoutMs, ms)],
    ['CPU', limitValue(r.cpuMs, ms)],
    ['Requests', limitValue(r.maxRequests, String)],
    ['Response size', limitValue(r.maxResponseBytes, bytes)],
  ];
}

const codes = (items: string[]) =>
  items.length === 0 ? (
    <span class="muted">none</span>
  ) : (
    <>
      {items.map((item, i) => (
        <>
          {i ? ', ' : ''}
          <code>{item}</code>
        </>
      ))}
    </>
  );
const raw = (yes: boolean) => (yes ? <strong class="risky">yes: may read secret values</strong> : 'no');

/** What the package asks to reach and use: a list of facts, or lines for a table cell. */
function PermissionList({ permissions, inline = false }: { permissions: Permissions; inline?: boolean }) {
  if (inline) {
    return (
      <ul class="values lines">
        <li>
          <span class="muted">Hosts</span> {codes(permissions.hosts)}
        </li>
        <li>
          <span class="muted">Credential types</span> {codes(permissions.credentialTypes)}
        </li>
        <li>
          <span class="muted">Raw secret access</span> {raw(permissions.rawSecretAccess)}
        </li>
      </ul>
    );
  }
  return (
    <dl class="facts compact">
      <dt>Hosts</dt>
      <dd>{codes(permissions.hosts)}</dd>
      <dt>Credential types</dt>
      <dd>{codes(permissions.credentialTypes)}</dd>
      <dt>Raw secret access</dt>
      <dd>{raw(permissions.rawSecretAccess)}</dd>
    </dl>
  );
}

/** The ceilings it asks for; absent ones are the appliance's defaults (which also clamp the rest). */
function LimitList({ resources, inline = false }: { resources: Resources; inline?: boolean }) {
  const limits = limitsOf(resources);
  if (inline) {
    return (
      <ul class="values lines">
        {limits.map(([label, value]) => (
          <li>
            <span class="muted">{label}</span> {value ?? <span class="muted">default</span>}
          </li>
        ))}
      </ul>
    );
  }
  return (
    <dl class="facts compact">
      {limits.map(([label, value]) => (
        <>
          <dt>{label}</dt>
          <dd>{value ?? <span class="muted">appliance default</span>}</dd>
        </>
      ))}
    </dl>
  );
}

function ActionList({ actions }: { actions: Action[] }) {
  if (actions.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="values">
      {actions.map((a) => (
        <li>
          <code title={a.description}>{a.uses}</code>
        </li>
      ))}
    </ul>
  );
}

function PolicyFacts({ name, policy }: { name: string; policy: Policy }) {
  return (
    <div class="plugin-policy" role="group" aria-label={`Policy for ${name}`}>
      <h3>Policy (all versions)</h3>
      <dl class="facts">
        <dt>Allowed hosts</dt>
        <dd>
          {policy.allowedHosts.length === 0 ? (
            <span class="muted">none: the plugin may reach no host</span>
          ) : policy.allowedHosts.length === 1 && policy.allowedHosts[0] === '*' ? (
            <>
              whatever its manifest asks for (<code>*</code>)
            </>
          ) : (
            codes(policy.allowedHosts)
          )}
        </dd>
        <dt>Allowed private</dt>
        <dd>
          {policy.allowedPrivate.length === 0 ? (
            <span class="muted">none: loopback, private and link-local addresses are refused</span>
          ) : (
            codes(policy.allowedPrivate)
          )}
        </dd>
        <dt>Raw secret access approved</dt>
        <dd>{policy.rawSecretAccessApproved ? 'yes' : 'no'}</dd>
      </dl>
    </div>
  );
}

function PluginGroup({ name, versions }: { name: string; versions: Plugin[] }) {
  const policy = versions.find((v) => v.policy)?.policy ?? null;
  return (
    <Section title={name} actions={<span class="muted">{versions.length === 1 ? '1 version' : `${versions.length} versions`}</span>}>
      <div class="plugin-versions">
        <Table
          caption={`Installed versions of ${name}`}
          rowKey={(p) => p.id}
          rows={versions}
          columns={[
            { label: 'Version', cell: (p) => <strong>{p.version}</strong> },
            { label: 'Trust', cell: (p) => <Status value={p.trust} /> },
            {
              label: 'Publisher',
              cell: (p) => (
                <div class="publisher-cell">
                  <span>{p.publisher}</span>
                  {p.publisherFingerprint ? <Fingerprint value={p.publisherFingerprint} /> : null}
                </div>
              ),
            },
            { label: 'Certificate expires', cell: (p) => <Time value={p.certificateNotAfter} /> },
            { label: 'Installed', cell: (p) => <Time value={p.installedAt} /> },
            { label: 'Actions', cell: (p) => <ActionList actions={p.actions} /> },
            { label: 'Permissions', cell: (p) => <PermissionList permissions={p.permissions} inline /> },
            { label: 'Limits', cell: (p) => <LimitList resources={p.resources} inline /> },
          ]}
        />
      </div>
      {policy ? <PolicyFacts name={name} policy={policy} /> : null}
    </Section>
  );
}

/** The file's bytes as base64 (what verifyPluginPackage and installPlugin take). */
function readBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.onerror = () => reject(new Error(`Could not read ${file.name}: ${reader.error?.message ?? 'unknown error'}`));
    reader.readAsDataURL(file);
  });
}

function CheckResult({ check, fileName }: { check: PackageCheck; fileName: string }) {
  const label = check.name && check.version ? `${check.name} ${check.version}` : fileName;
  return (
    <div class="package-check" role="region" aria-label="Verification result">
      {check.ok ? (
        <p class="success" role="status">
          <strong>Verified.</strong>{' '}
          {check.installed
            ? `${label} passed verification.`
            : `${label} passed verification and may be installed. Check what it asks for before you install it.`}
        </p>
      ) : (
        <div class="error" role="alert">
          <strong>
            Refused: <code>{check.refusal}</code>.
          </strong>{' '}
          {check.reason} Nothing was installed.
        </div>
      )}
      {check.ok && check.trust === 'UNSIGNED' ? (
        <p class="notice">
          <strong>Not signed.</strong> Nobody vouches for this package; the appliance accepts it only because it is configured to allow
          unsigned plugins.
        </p>
      ) : null}
      {check.installed ? (
        <p class="notice">
          {check.ok ? `${label} is already installed` : `A different package named ${label} is already installed`} (since{' '}
          <Time value={check.installed.installedAt} />, {check.installed.trust}).
          {check.ok ? ' Installing it again changes nothing.' : ''}
        </p>
      ) : null}
      {check.name ? (
        <dl class="facts">
          <dt>Plugin</dt>
          <dd>
            <strong>{check.name}</strong> {check.version}
          </dd>
          {check.publisher ? (
            <>
              <dt>Publisher</dt>
              <dd>{check.publisher}</dd>
            </>
          ) : null}
          {check.trust ? (
            <>
              <dt>Trust</dt>
              <dd>
                <Status value={check.trust} />
              </dd>
            </>
          ) : null}
          {check.publisherFingerprint ? (
            <>
              <dt>Publisher fingerprint</dt>
              <dd>
                <Fingerprint value={check.publisherFingerprint} full />
              </dd>
            </>
          ) : null}
          {check.certificateNotAfter ? (
            <>
              <dt>Certificate expires</dt>
              <dd>
                <Time value={check.certificateNotAfter} />
              </dd>
            </>
          ) : null}
          {check.minApplianceVersion ? (
            <>
              <dt>Needs appliance</dt>
              <dd>{check.minApplianceVersion} or later</dd>
            </>
          ) : null}
          {check.packageSha256 ? (
            <>
              <dt>Package SHA-256</dt>
              <dd>
                <code class="hash">{check.packageSha256}</code>
              </dd>
            </>
          ) : null}
          {check.actions ? (
            <>
              <dt>Actions</dt>
              <dd>
                <ActionList actions={check.actions} />
              </dd>
            </>
          ) : null}
          {check.permissions ? (
            <>
              <dt>Permissions asked for</dt>
              <dd>
                <PermissionList permissions={check.permissions} />
              </dd>
            </>
          ) : null}
          {check.resources ? (
            <>
              <dt>Limits asked for</dt>
              <dd>
                <LimitList resources={check.resources} />
              </dd>
            </>
          ) : null}
        </dl>
      ) : null}
    </div>
  );
}

/** Choose a package → verify it → show what it is and asks for → install on an explicit confirm. */
function InstallPlugin({ onInstalled }: { onInstalled: () => void }) {
  const [picked, setPicked] = useState<{ fileName: string; bundle: string; check: PackageCheck } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [inputKey, setInputKey] = useState(0);
  const fileInput = useRef<HTMLInputElement>(null);
  const verify = useAction(async (file: File) => {
    const bundle = await readBase64(file);
    const { verifyPluginPackage: check } = await gql(PluginsVerifyDocument, { bundle });
    return { fileName: file.name, bundle, check };
  });
  const install = useAction((bundle: string) => gql(PluginsInstallDocument, { bundle }));

  const reset = () => {
    setPicked(null);
    verify.clear();
    install.clear();
    setInputKey((k) => k + 1); // a fresh file input: the same file can be chosen again
  };
  const choose = async (event: Event) => {
    const file = (event.currentTarget as HTMLInputElement).files?.[0];
    setPicked(null);
    setDone(null);
    install.clear();
    if (!file) return;
    const result = await verify.run(file);
    if (result) setPicked(result);
  };
  const confirm = async () => {
    if (!picked) return;
    const result = await install.run(picked.bundle);
    if (!result) return;
    const p = result.installPlugin;
    reset();
    setDone(`Installed ${p.name} ${p.version} (${p.trust}).`);
    onInstalled();
    fileInput.current?.focus();
  };

  const { check } = picked ?? {};
  const canInstall = check?.ok && !check.installed;
  return (
    <Section title="Install a plugin">
      <p class="muted">The package is verified first (signature, publisher, compatibility); nothing is installed until you confirm.</p>
      <div class="filters">
        <Field label="Plugin package" hint="A signed package: .tar.gz or .tgz">
          {(props) => (
            <input
              {...props}
              key={inputKey}
              ref={fileInput}
              type="file"
              accept=".tar.gz,.tgz,application/gzip"
              disabled={verify.pending || install.pending}
              onChange={choose}
            />
          )}
        </Field>
      </div>
      {verify.pending ? <Loading what="and verifying the package" /> : null}
      <ErrorBox error={verify.error} title="Could not verify the package" />
      {done ? (
        <p class="success" role="status">
          {done}
        </p>
      ) : null}
      {picked && check ? (
        <>
          <CheckResult check={check} fileName={picked.fileName} />
          <ErrorBox error={install.error} title="Could not install the plugin" />
          <div class="row">
            {canInstall ? (
              <button type="button" class="primary" disabled={install.pending} onClick={confirm}>
                {install.pending ? `Installing ${check.name} ${check.version}…` : `Install ${check.name} ${check.version}`}
              </button>
            ) : null}
            <button
              type="button"
              disabled={install.pending}
              onClick={() => {
                reset();
                fileInput.current?.focus();
              }}
            >
              {canInstall ? 'Cancel' : 'Choose another package'}
            </button>
          </div>
        </>
      ) : null}
    </Section>
  );
}

export function PluginsPage() {
  const loaded = useLoad(() => gql(PluginsListDocument), []);
  return (
    <Page title="Plugins">
      {can('plugin:manage') ? <InstallPlugin onInstalled={loaded.reload} /> : null}
      <Guard loaded={loaded} what="the plugins" empty={(d) => (d.plugins.length === 0 ? 'No plugin is installed.' : null)}>
        {({ plugins }) => {
          const groups = new Map<string, Plugin[]>();
          for (const p of plugins) groups.set(p.name, [...(groups.get(p.name) ?? []), p]);
          return (
            <>
              {[...groups]
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([name, versions]) => (
                  <PluginGroup key={name} name={name} versions={versions} />
                ))}
            </>
          );
        }}
      </Guard>
    </Page>
  );
}
