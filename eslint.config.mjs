// ESLint (flat config) with typescript-eslint, as Temporal's TypeScript samples set it up, plus the
// project's own guards: deterministic workflow code, and imports that only point down the layers of
// ARCHITECTURE.md (domain < store < drivers < scheduler < activities < workflows < edges).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The edges: processes, configuration, logs, client and CLI, dev tooling. Nothing below imports them. */
const EDGES = '(client|cli|config|dev-server|observability|worker|logger|temporal-connection|build-bundle)';
const LAYERS_ABOVE = {
  domain: ['store', 'drivers', 'scheduler', 'activities', 'workflows'],
  store: ['drivers', 'scheduler', 'activities', 'workflows'],
  drivers: ['scheduler', 'activities', 'workflows'],
  scheduler: ['store', 'drivers', 'activities', 'workflows'], // the pure core: no store, no drivers either
  activities: ['workflows'],
  workflows: [],
};

/** A relative import (any depth) of one of these top-level src/ folders or files. */
const relativeTo = (names) => `^(\\.\\./)+${names}(/|$)`;

function layerRule(layer) {
  const above = LAYERS_ABOVE[layer];
  return {
    files: [`src/${layer}/**/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            ...(above.length
              ? [
                  {
                    regex: relativeTo(`(${above.join('|')})`),
                    message: `src/${layer} sits below ${above.join(', ')}: imports only point down (ARCHITECTURE.md).`,
                  },
                ]
              : []),
            {
              regex: relativeTo(EDGES),
              message: `src/${layer} may not import the edges (worker, CLI, client, config, observability, dev server).`,
            },
            ...(layer === 'scheduler'
              ? [{ regex: '^@temporalio/', message: 'The scheduler core imports nothing from Temporal.' }]
              : []),
            ...(layer === 'workflows' ? WORKFLOW_PATTERNS : []),
          ],
          ...(layer === 'workflows' ? { paths: NODE_BUILTINS } : {}),
        },
      ],
    },
  };
}

// Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O or clocks of its
// own, and from activities, the store or the drivers only types (proxyActivities<typeof ...>).
const NODE_BUILTINS = builtinModules
  .filter((m) => !m.startsWith('_'))
  .map((name) => ({
    name,
    message: 'Workflow code is deterministic: no Node built-ins (Temporal sandbox).',
  }));
const WORKFLOW_PATTERNS = [
  { regex: '^node:', message: 'Workflow code is deterministic: no Node built-ins (Temporal sandbox).' },
  {
    regex:
      '^(@temporalio/(worker|client|activity|testing|envconfig)|pino|pino-pretty|pg|better-sqlite3|yaml|@opentelemetry/(sdk-|exporter-|context-async-hooks))',
    message:
      'Workflow code may not use I/O, clocks or process state: only @temporalio/workflow and deterministic helpers.',
    allowTypeImports: true,
  },
  {
    // The schemas' types are welcome (import type); the schema library would only weigh the bundle.
    regex: '^zod(/|$)',
    message: 'Workflow code takes only types from zod (import type): the bundle stays free of the schema library.',
    allowTypeImports: true,
  },
  {
    regex: relativeTo('domain/(validation|create-options|schema-errors)'),
    message: 'Workflow code takes only types from the zod schemas (import type): the bundle stays free of zod.',
    allowTypeImports: true,
  },
  {
    regex: relativeTo('(activities|store|drivers)'),
    message:
      'Workflow code imports only types from activities (proxyActivities<typeof ...>), nothing from the store or drivers.',
    allowTypeImports: true,
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.data/', 'test-artifacts/', 'bench/results/', 'test/histories/*.json'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['scripts/*.ts', 'bin/*.js', 'eslint.config.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  // Control characters are matched on purpose there: refused in input, escaped in output (issue 9).
  { files: ['src/domain/text.ts', 'test/**/*.ts'], rules: { 'no-control-regex': 'off' } },
  {
    files: ['bin/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  ...Object.keys(LAYERS_ABOVE).map(layerRule),
  // The production worker and what it loads take nothing from the dev tooling (dev server, local
  // worker processes); only the CLI (npm start's demo, dev-server command) does.
  {
    files: ['src/*.ts', 'src/client/**/*.ts', 'src/config/**/*.ts', 'src/observability/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.{1,2}/)+dev-server(/|$)',
              message: 'Production code imports nothing from src/dev-server (dev tooling).',
            },
          ],
        },
      ],
    },
  },
);
