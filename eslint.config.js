// `npm run lint` (part of `npm test`): ESLint with typescript-eslint and import-x on every
// TypeScript file. The layering rules live in .dependency-cruiser.cjs, which lint runs too.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'test/artifacts/', 'switchyard-*/', 'core/graphql/generated/', 'admin-ui/src/gql/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a parameter a signature requires; a caught error may go unused.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: { 'import-x': importX },
    settings: {
      // import-x reads the imported modules too (no-cycle follows them): with the TypeScript parser.
      'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [
        createTypeScriptImportResolver({ project: ['tsconfig.json', 'admin-ui/tsconfig.json'], noWarnOnMultipleProjects: true }),
      ],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-self-import': 'error',
      'import-x/no-duplicates': 'error',
      'import-x/no-useless-path-segments': 'error',
      'import-x/no-extraneous-dependencies': [
        'error',
        { devDependencies: ['test/**', 'bench/**', 'admin-ui/**', '*.config.*', 'codegen.ts'] },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'error',
    },
  },
  {
    // Tests read GraphQL answers as parsed JSON and assert on the fields they name; the
    // assertion, not a restated type, is what checks the shape.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The console runs in the browser.
    files: ['admin-ui/src/**'],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ['admin-ui/build.mjs', 'eslint.config.js', '.dependency-cruiser.cjs'],
    languageOptions: { globals: globals.node },
  },
  {
    // First-party plugin scripts run inside an isolate: the language, and the globals the bootstrap defines.
    files: ['plugins/firstParty/*/plugin.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { defineAction: 'readonly', PluginError: 'readonly', log: 'readonly', http: 'readonly' },
    },
  },
);
