/**
 * Proves the determinism lint (eslint.config.js) fires: every nondeterministic Node API
 * planted in ordinary source is reported under the right rule, the same code is allowed where
 * the config exempts it (src/env/real, src/cli, tests), and going through an Env is allowed
 * everywhere.
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

type DeterminismRule =
  | 'no-restricted-globals'
  | 'no-restricted-properties'
  | 'no-restricted-imports'
  | 'no-restricted-syntax';

interface Plant {
  readonly what: string;
  readonly code: string;
  readonly rules: readonly DeterminismRule[];
}

const PLANTS: readonly Plant[] = [
  {
    what: 'Date.now()',
    code: 'export const t = Date.now();\n',
    rules: ['no-restricted-globals', 'no-restricted-properties'],
  },
  { what: 'new Date()', code: 'export const d = new Date();\n', rules: ['no-restricted-globals'] },
  {
    what: 'Math.random()',
    code: 'export const r = Math.random();\n',
    rules: ['no-restricted-properties'],
  },
  { what: 'setTimeout', code: 'setTimeout(() => {}, 10);\n', rules: ['no-restricted-globals'] },
  { what: 'setInterval', code: 'setInterval(() => {}, 10);\n', rules: ['no-restricted-globals'] },
  { what: 'setImmediate', code: 'setImmediate(() => {});\n', rules: ['no-restricted-globals'] },
  {
    what: 'clearTimeout',
    code: 'export const c = (h: number) => clearTimeout(h);\n',
    rules: ['no-restricted-globals'],
  },
  { what: 'queueMicrotask', code: 'queueMicrotask(() => {});\n', rules: ['no-restricted-globals'] },
  {
    what: 'process.hrtime()',
    code: 'export const t = process.hrtime();\n',
    rules: ['no-restricted-properties'],
  },
  {
    what: 'process.hrtime.bigint()',
    code: 'export const t = process.hrtime.bigint();\n',
    rules: ['no-restricted-properties'],
  },
  {
    what: 'performance.now()',
    code: 'export const t = performance.now();\n',
    rules: ['no-restricted-globals'],
  },
  {
    what: 'globalThis.setTimeout',
    code: 'globalThis.setTimeout(() => {}, 10);\n',
    rules: ['no-restricted-properties'],
  },
  {
    what: "import * as fs from 'node:fs'",
    code: "import * as fs from 'node:fs';\nexport const f = fs;\n",
    rules: ['no-restricted-imports'],
  },
  {
    what: "from 'fs/promises'",
    code: "import { readFile } from 'fs/promises';\nexport { readFile };\n",
    rules: ['no-restricted-imports'],
  },
  {
    what: "from 'node:net'",
    code: "import { createServer } from 'node:net';\nexport { createServer };\n",
    rules: ['no-restricted-imports'],
  },
  {
    what: "from 'node:dgram'",
    code: "import { createSocket } from 'node:dgram';\nexport { createSocket };\n",
    rules: ['no-restricted-imports'],
  },
  {
    what: "from 'node:timers/promises'",
    code: "import { setTimeout as sleep } from 'node:timers/promises';\nexport { sleep };\n",
    rules: ['no-restricted-imports'],
  },
  {
    what: "dynamic import('node:fs')",
    code: "export const fs = await import('node:fs');\n",
    rules: ['no-restricted-syntax'],
  },
  {
    what: "import { hrtime } from 'node:process'",
    code: "import { hrtime } from 'node:process';\nexport { hrtime };\n",
    rules: ['no-restricted-imports'],
  },
  {
    what: 'globalThis.setInterval',
    code: 'globalThis.setInterval(() => {}, 10);\n',
    rules: ['no-restricted-properties'],
  },
  {
    what: 'global.setTimeout',
    code: 'global.setTimeout(() => {}, 10);\n',
    rules: ['no-restricted-properties'],
  },
  {
    what: 'globalThis.performance',
    code: 'export const t = globalThis.performance.now();\n',
    rules: ['no-restricted-properties'],
  },
  {
    what: 'crypto.randomUUID()',
    code: 'export const id = crypto.randomUUID();\n',
    rules: ['no-restricted-properties'],
  },
  {
    what: "dynamic import('fs/promises')",
    code: "export const fs = await import('fs/promises');\n",
    rules: ['no-restricted-syntax'],
  },
  {
    what: "randomBytes from 'node:crypto'",
    code: "import { randomBytes } from 'node:crypto';\nexport { randomBytes };\n",
    rules: ['no-restricted-imports'],
  },
  {
    what: "from 'node:http'",
    code: "import { createServer } from 'node:http';\nexport { createServer };\n",
    rules: ['no-restricted-imports'],
  },
  {
    what: "from 'node:worker_threads'",
    code: "import { Worker } from 'node:worker_threads';\nexport { Worker };\n",
    rules: ['no-restricted-imports'],
  },
];

const THROUGH_ENV = `import type { Env } from '../env/index.js';

export function stamp(env: Env): number {
  const timer = env.timers.after(1, () => {});
  timer.cancel();
  env.timers.defer(() => {});
  void env.timers.sleep(5);
  return env.clock.nowMicros() + env.clock.monoMicros() + env.random.uint32();
}
`;

let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: repoRoot });
});

async function lint(code: string, filePath: string): Promise<ESLint.LintResult> {
  const [result] = await eslint.lintText(code, { filePath });
  if (!result) throw new Error(`no lint result for ${filePath}`);
  return result;
}

describe('determinism lint', () => {
  describe.each(PLANTS)('$what', (plant) => {
    it('is an error in ordinary source, under the expected rule', async () => {
      const result = await lint(plant.code, 'src/storage/planted.ts');
      const ruleIds = result.messages.map((m) => m.ruleId);
      for (const rule of plant.rules) expect(ruleIds).toContain(rule);
      for (const m of result.messages) {
        expect(m.severity).toBe(2);
        expect(m.message.toLowerCase()).toMatch(/env|restricted/);
      }
      // Nothing else in the plant is wrong, so every message is a determinism rule.
      expect(new Set(ruleIds)).toEqual(new Set(plant.rules));
    });

    it.each(['src/env/real/x.ts', 'src/cli/x.ts', 'src/storage/planted.test.ts'])(
      'is allowed in %s',
      async (filePath) => {
        const result = await lint(plant.code, filePath);
        expect(result.messages).toEqual([]);
      },
    );
  });

  it.each(['src/storage/planted.ts', 'src/consensus/raft.ts', 'src/env/sim/x.ts'])(
    'allows going through the Env in %s',
    async (filePath) => {
      const result = await lint(THROUGH_ENV, filePath);
      expect(result.messages).toEqual([]);
    },
  );

  it('allows deterministic hashing from node:crypto (the simulator digests its trace)', async () => {
    const code =
      "import { createHash } from 'node:crypto';\nexport const h = createHash('sha256');\n";
    const result = await lint(code, 'src/env/sim/x.ts');
    expect(result.messages).toEqual([]);
  });
});
