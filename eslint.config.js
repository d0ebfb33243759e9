// Lint configuration. The determinism rules below are the project's most important lint:
// every clock read, timer, random number, file and socket must go through the injected Env
// (src/env), so that the simulator can replay any run from its seed. Only src/env/real and
// the CLI's process start-up code (src/cli, bin/) may touch Node's nondeterministic APIs.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nondeterministicGlobals = [
  ['Date', 'Use env.clock (wall or monotonic microseconds) instead of Date.'],
  ['setTimeout', 'Use env.timers.after() so the simulator controls time.'],
  ['setInterval', 'Use env.timers.every() so the simulator controls time.'],
  ['setImmediate', 'Use env.timers.defer() so the simulator controls scheduling.'],
  ['clearTimeout', 'Cancel the Timer returned by env.timers.'],
  ['clearInterval', 'Cancel the Timer returned by env.timers.'],
  ['clearImmediate', 'Cancel the Timer returned by env.timers.'],
  ['performance', 'Use env.clock.monoMicros() instead of performance.now().'],
  ['queueMicrotask', 'Use promises or env.timers.defer().'],
].map(([name, message]) => ({ name, message: `${message} (determinism: see DESIGN.md)` }));

const nondeterministicModules = [
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'net',
  'node:net',
  'tls',
  'node:tls',
  'dgram',
  'node:dgram',
  'timers',
  'node:timers',
  'timers/promises',
  'node:timers/promises',
  'perf_hooks',
  'node:perf_hooks',
  'child_process',
  'node:child_process',
  'http',
  'node:http',
  'https',
  'node:https',
  'http2',
  'node:http2',
  'worker_threads',
  'node:worker_threads',
].map((name) => ({
  name,
  message: 'Reach files, sockets, timers and processes only through the injected Env (src/env).',
}));

// Modules that are fine to import, except for their nondeterministic members. (node:crypto's
// hashes are deterministic and the simulator digests its trace with one.)
const partlyRestrictedModules = [
  {
    name: 'node:crypto',
    importNames: [
      'randomBytes',
      'randomUUID',
      'randomInt',
      'randomFillSync',
      'getRandomValues',
      'webcrypto',
    ],
    message: 'Use env.random (seeded) instead of crypto randomness.',
  },
  {
    name: 'crypto',
    importNames: [
      'randomBytes',
      'randomUUID',
      'randomInt',
      'randomFillSync',
      'getRandomValues',
      'webcrypto',
    ],
    message: 'Use env.random (seeded) instead of crypto randomness.',
  },
  { name: 'node:process', importNames: ['hrtime'], message: 'Use env.clock.monoMicros() instead.' },
  { name: 'process', importNames: ['hrtime'], message: 'Use env.clock.monoMicros() instead.' },
];

// For dynamic import(); esquery's regex syntax cannot hold '/', so submodules such as
// 'fs/promises' are caught by the word boundary after their parent's name.
const bannedModulePattern = `^(node:)?(${[
  'fs',
  'net',
  'tls',
  'dgram',
  'timers',
  'perf_hooks',
  'child_process',
  'http',
  'https',
  'http2',
  'worker_threads',
].join('|')})\\b`;

export const determinismRules = {
  'no-restricted-globals': ['error', ...nondeterministicGlobals],
  'no-restricted-properties': [
    'error',
    { object: 'Math', property: 'random', message: 'Use env.random (seeded) instead.' },
    { object: 'process', property: 'hrtime', message: 'Use env.clock.monoMicros() instead.' },
    { object: 'Date', property: 'now', message: 'Use env.clock.nowMicros() instead.' },
    { object: 'crypto', property: 'randomUUID', message: 'Use env.random (seeded) instead.' },
    { object: 'crypto', property: 'getRandomValues', message: 'Use env.random (seeded) instead.' },
    ...['globalThis', 'global'].flatMap((object) =>
      [...nondeterministicGlobals.map((g) => g.name), 'crypto'].map((property) => ({
        object,
        property,
        message: 'Reach time, timers and randomness through the injected Env (src/env).',
      })),
    ),
  ],
  'no-restricted-imports': [
    'error',
    { paths: [...nondeterministicModules, ...partlyRestrictedModules] },
  ],
  'no-restricted-syntax': [
    'error',
    {
      selector: `ImportExpression[source.value=/${bannedModulePattern}/]`,
      message:
        'Reach files, sockets, timers and processes only through the injected Env (src/env).',
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/env/real/**', 'src/cli/**', 'src/**/*.test.ts'],
    rules: determinismRules,
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
);
