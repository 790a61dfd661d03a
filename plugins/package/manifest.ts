/**
 * The plugin manifest (`manifest.json`): who publishes the plugin, which actions it
 * offers, what it may reach and how much it may use. Structure is checked by a JSON
 * Schema so every shape problem is reported in one pass; rules that span fields (unique
 * action names, port ranges, that the action schemas are themselves JSON Schemas) are
 * checked in code afterwards.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { appendPath, pointerToPath, withArticle } from '../../core/jsonPaths.js';
import { HOST_PATTERN_SOURCE } from '../../core/hostPatterns.js';
import { VERSION_PATTERN } from '../../core/versions.js';

export const MANIFEST_FILE = 'manifest.json';
export const DEFAULT_ENTRY = 'plugin.js';

/** A JSON Schema object as written by the plugin author; checked against draft-07. */
export type JsonSchemaObject = Record<string, unknown>;

export interface PluginAction {
  /** Workflows name it as `<plugin>/<action>@<major>`. */
  name: string;
  description: string;
  inputSchema: JsonSchemaObject;
  outputSchema: JsonSchemaObject;
}

export interface PluginPermissions {
  /**
   * Hosts the plugin may open connections to, as `host` or `host:port`; a leading `*.`
   * matches any subdomain (not the bare domain). Default: none.
   */
  hosts: string[];
  /** Credential types the plugin may be handed. Default: none. */
  credentialTypes: string[];
  /** Whether the plugin may read secret values rather than only use them through the host. Default: false. */
  rawSecretAccess: boolean;
}

/** Requested ceilings; the appliance clamps them to its own limits. Absent means the appliance default. */
export interface PluginResources {
  memoryMb?: number;
  timeoutMs?: number;
  cpuMs?: number;
  maxRequests?: number;
  maxResponseBytes?: number;
}

export interface PluginManifest {
  name: string;
  /** `major.minor.patch`. */
  version: string;
  /** Must equal the commonName or organizationName of the signing certificate. */
  publisher: string;
  /** Oldest appliance version (`major.minor.patch`) the plugin runs on. */
  minApplianceVersion: string;
  /** Script file in the package that the sandbox loads. Default: `plugin.js`. */
  entry: string;
  actions: PluginAction[];
  permissions: PluginPermissions;
  resources: PluginResources;
}

/** One problem with a manifest, at a path such as `actions[1].name`. */
export interface ManifestIssue {
  path: string;
  message: string;
}

export type ManifestValidation = { ok: true; manifest: PluginManifest } | { ok: false; issues: ManifestIssue[] };

/** Enough to fix a manifest in a few rounds without flooding the publisher. */
const MAX_ISSUES = 50;

const PLUGIN_NAME = '^[a-z][a-z0-9-]{0,63}$';
const ACTION_NAME = '^[a-z][a-zA-Z0-9_-]{0,63}$';
const ENTRY = '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,124}\\.js$';
// Lowercase DNS labels (or IPv4 digits), optional `*.` prefix, optional port.
// A bare `*` is for general-purpose plugins (http/request): any host the administrator's
// egress policy allows; the address checks against internal ranges still apply.
const HOST = `^(\\*|${HOST_PATTERN_SOURCE})$`;
const CREDENTIAL_TYPE = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';

const PATTERN_HINTS: Record<string, string> = {
  [PLUGIN_NAME]: 'must start with a lowercase letter and contain only lowercase letters, digits and "-" (at most 64 characters)',
  [ACTION_NAME]: 'must start with a lowercase letter and contain only letters, digits, "_" and "-" (at most 64 characters)',
  [VERSION_PATTERN]: 'must be a version "major.minor.patch", e.g. "1.4.0"',
  [ENTRY]: 'must be a .js file name in the package root, e.g. "plugin.js"',
  [HOST]: 'must be "*" or a lowercase "host" or "host:port", optionally starting with "*.", e.g. "*.example.com:443"',
  [CREDENTIAL_TYPE]: 'must be letters, digits, ".", "_" and "-", starting with a letter or digit (at most 128 characters)',
};

const positiveInteger = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER };

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'publisher', 'minApplianceVersion', 'actions'],
  properties: {
    name: { type: 'string', pattern: PLUGIN_NAME },
    version: { type: 'string', pattern: VERSION_PATTERN },
    publisher: { type: 'string', minLength: 1, maxLength: 200 },
    minApplianceVersion: { type: 'string', pattern: VERSION_PATTERN },
    entry: { type: 'string', pattern: ENTRY },
    actions: {
      type: 'array',
      minItems: 1,
      maxItems: 200,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'description', 'inputSchema', 'outputSchema'],
        properties: {
          name: { type: 'string', pattern: ACTION_NAME },
          description: { type: 'string', maxLength: 2000 },
          inputSchema: { type: 'object' },
          outputSchema: { type: 'object' },
        },
      },
    },
    permissions: {
      type: 'object',
      additionalProperties: false,
      properties: {
        hosts: { type: 'array', maxItems: 200, items: { type: 'string', pattern: HOST }, uniqueItems: true },
        credentialTypes: { type: 'array', maxItems: 100, items: { type: 'string', pattern: CREDENTIAL_TYPE }, uniqueItems: true },
        rawSecretAccess: { type: 'boolean' },
      },
    },
    resources: {
      type: 'object',
      additionalProperties: false,
      properties: {
        memoryMb: positiveInteger,
        timeoutMs: positiveInteger,
        cpuMs: positiveInteger,
        maxRequests: positiveInteger,
        maxResponseBytes: positiveInteger,
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: true });
const checkShape = ajv.compile(schema);
// A separate, lenient instance: plugin authors may use keywords (format, examples, ...)
// that the strict instance would reject, and only meta-schema conformance matters here.
const schemaChecker = new Ajv({ allErrors: true, strict: false, validateSchema: true });

function issueFromAjv(e: ErrorObject): ManifestIssue {
  const at = pointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const issue = (path: string, message: string): ManifestIssue => ({ path: path || '(root)', message });
  switch (e.keyword) {
    case 'additionalProperties':
      return issue(appendPath(at, String(p.additionalProperty)), 'unknown property');
    case 'required':
      return issue(appendPath(at, String(p.missingProperty)), 'is required');
    case 'type':
      return issue(at, `must be ${withArticle(String(p.type))}`);
    case 'pattern':
      return issue(at, PATTERN_HINTS[String(p.pattern)] ?? `must match ${String(p.pattern)}`);
    case 'minimum':
    case 'maximum':
      return issue(at, 'must be a positive integer');
    case 'uniqueItems': {
      const later = Math.max(Number(p.i), Number(p.j));
      const earlier = Math.min(Number(p.i), Number(p.j));
      return issue(appendPath(at, later), `duplicate of ${appendPath(at, earlier)}`);
    }
    case 'minItems':
      return issue(at, `must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`);
    case 'maxItems':
      return issue(at, `must have at most ${String(p.limit)} items`);
    case 'minLength':
      return issue(at, 'must not be empty');
    case 'maxLength':
      return issue(at, `must be at most ${String(p.limit)} characters`);
    default:
      return issue(at, e.message ?? 'is invalid');
  }
}

/** Checks a parsed `manifest.json` and returns it with defaults filled in, or every problem found. */
export function validateManifest(raw: unknown): ManifestValidation {
  const issues: ManifestIssue[] = [];
  const add = (path: string, message: string): void => {
    if (issues.length < MAX_ISSUES) issues.push({ path, message });
  };
  if (!checkShape(raw)) {
    for (const e of checkShape.errors ?? []) {
      const { path, message } = issueFromAjv(e);
      add(path, message);
    }
    return { ok: false, issues };
  }
  const input = raw as Omit<PluginManifest, 'entry' | 'permissions' | 'resources'> & {
    entry?: string;
    permissions?: Partial<PluginPermissions>;
    resources?: PluginResources;
  };

  const firstByName = new Map<string, number>();
  input.actions.forEach((action, i) => {
    const earlier = firstByName.get(action.name);
    if (earlier === undefined) firstByName.set(action.name, i);
    else add(`actions[${i}].name`, `duplicate action name "${action.name}" (also actions[${earlier}].name)`);
    for (const key of ['inputSchema', 'outputSchema'] as const) {
      const at = `actions[${i}].${key}`;
      let valid: unknown;
      try {
        valid = schemaChecker.validateSchema(action[key]);
      } catch (err) {
        // An unknown `$schema` meta-schema lands here rather than in `errors`.
        add(appendPath(at, '$schema'), `is not a supported JSON Schema draft: ${(err as Error).message}`);
        continue;
      }
      if (valid === true) continue;
      for (const e of schemaChecker.errors ?? []) {
        add(pointerToPath(e.instancePath, at), `is not a valid JSON Schema: ${e.message ?? 'invalid'}`);
      }
    }
  });
  (input.permissions?.hosts ?? []).forEach((host, i) => {
    const port = /:([0-9]+)$/.exec(host)?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
      add(`permissions.hosts[${i}]`, `port ${port} is outside 1-65535`);
    }
  });
  if (issues.length > 0) return { ok: false, issues };

  return {
    ok: true,
    manifest: {
      name: input.name,
      version: input.version,
      publisher: input.publisher,
      minApplianceVersion: input.minApplianceVersion,
      entry: input.entry ?? DEFAULT_ENTRY,
      actions: input.actions.map((a) => ({ ...a })),
      permissions: {
        hosts: [...(input.permissions?.hosts ?? [])],
        credentialTypes: [...(input.permissions?.credentialTypes ?? [])],
        rawSecretAccess: input.permissions?.rawSecretAccess ?? false,
      },
      resources: { ...(input.resources ?? {}) },
    },
  };
}
