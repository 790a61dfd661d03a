/**
 * The layering that `npm run lint` keeps (README, Architecture). Arrows point one way:
 * the domain (`core/`) knows nothing of the transport, the sandbox, the package format,
 * the installer, the console or the command line; those plug into interfaces it defines.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle makes load order matter and the layers meaningless: break it with a smaller module both sides import.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-the-domain',
      severity: 'error',
      comment: 'core/ imports nothing from the layers around it; they plug into its interfaces (StepExecutor, ActionHooks, ApiModule).',
      from: { path: '^core/' },
      to: { path: '^(server|sandbox|plugins|installer|admin-ui|bin|bench|test)/' },
    },
    {
      name: 'sandbox-sees-only-the-domain',
      severity: 'error',
      comment: "The sandbox implements the domain's StepExecutor; it knows nothing of the server, the installer or the command line.",
      from: { path: '^sandbox/' },
      to: { path: '^(server|plugins|installer|admin-ui|bin|bench|test)/' },
    },
    {
      name: 'plugin-format-sees-only-the-domain',
      severity: 'error',
      comment: 'The package format and the first-party plugins are read by the server and the command line, not the other way round.',
      from: { path: '^plugins/' },
      to: { path: '^(server|sandbox|installer|admin-ui|bin|bench|test)/' },
    },
    {
      name: 'server-is-the-composition-root',
      severity: 'error',
      comment: 'The server composes the domain, the sandbox and the plugins; the installer and the command line use it, never the reverse.',
      from: { path: '^server/' },
      to: { path: '^(installer|admin-ui|bin|bench|test)/' },
    },
    {
      name: 'installer-below-the-command-line',
      severity: 'error',
      from: { path: '^installer/' },
      to: { path: '^(sandbox|admin-ui|bin|bench|test)/' },
    },
    {
      name: 'console-speaks-only-graphql',
      severity: 'error',
      comment: 'The admin console is a browser application over the public GraphQL API: no server code, no Node built-ins.',
      from: { path: '^admin-ui/src/' },
      // Type-only imports (the generated documents' types) leave nothing in the browser's code.
      to: { pathNot: '^(admin-ui/src/|node_modules/preact)', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'isolate-code-has-no-node',
      severity: 'error',
      comment: 'Code that runs inside an isolate has no module loader and no Node: it may import nothing at all.',
      from: { path: '^(sandbox/runtime/guest/|plugins/firstParty/[^/]+/plugin\\.js$)' },
      to: { pathNot: '^sandbox/runtime/guest/' },
    },
    {
      name: 'isolate-code-has-no-node-builtins',
      severity: 'error',
      from: { path: '^(sandbox/runtime/guest/|plugins/firstParty/[^/]+/plugin\\.js$)' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'production-code-uses-production-dependencies',
      severity: 'error',
      comment:
        'The offline bundle holds production dependencies only: a devDependency imported by shipped code breaks the installed appliance.',
      from: { path: '^(core|server|sandbox|plugins|installer|bin)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-unresolvable-imports',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|data|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.d.ts'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
