import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbedded } from '../../../client/embedded.js';
import type { Database } from '../../../client/table-api.js';
import { makeTempRoot, realEnv, removeTempRoot } from '../../../env/real/index.js';
import type { Env } from '../../../env/types.js';
import { runWorkload } from './runner.js';
import { tesseraSystem } from './targets.js';
import { WORKLOADS, WorkloadStream } from './workloads.js';

let root: string;
let env: Env;
let db: Database;

beforeAll(async () => {
  root = makeTempRoot('tessera-ycsb-runner-');
  env = realEnv({ root, seed: 1 });
  db = await openEmbedded(env, '/db');
});
afterAll(async () => {
  await db.close();
  removeTempRoot(root);
});

/**
 * A Tessera system over one embedded database whose "connections" are counted: each open is a
 * handle on the same store, and closing a handle leaves the store open for the next run.
 */
function countedSystem(): {
  system: ReturnType<typeof tesseraSystem>;
  opened: () => number;
  closed: () => number;
} {
  let opened = 0;
  let closed = 0;
  const connectFn = async (): Promise<Database> => {
    opened++;
    return {
      createTable: (spec, o) => db.createTable(spec, o),
      describeTable: (name, o) => db.describeTable(name, o),
      listTables: (o) => db.listTables(o),
      dropTable: (name, o) => db.dropTable(name, o),
      table: (name) => db.table(name),
      close: async () => {
        closed++;
      },
    };
  };
  return {
    system: tesseraSystem('embedded', connectFn),
    opened: () => opened,
    closed: () => closed,
  };
}

describe('runWorkload', () => {
  it('shares connections among clients as told, one by default for Tessera, and closes each', async () => {
    for (const [connections, expected] of [
      [undefined, 1],
      [3, 3],
      [64, 8], // never more connections than clients
    ] as const) {
      const { system, opened, closed } = countedSystem();
      const stream = new WorkloadStream(WORKLOADS.a, { records: 200, operations: 400, seed: 3 });
      const result = await runWorkload(system, stream, {
        records: 200,
        operations: 400,
        clients: 8,
        ...(connections === undefined ? {} : { connections }),
        progress: false,
      });
      // prepare() opens (and closes) one more to create the table.
      expect(opened() - 1).toBe(expected);
      expect(closed()).toBe(opened());
      expect(result.connections).toBe(expected);
      expect(result.load.operations).toBe(200);
      expect(result.run.operations).toBe(400);
      expect(result.load.errors + result.run.errors).toBe(0);
      expect(result.run.notFound).toBe(0);
      expect(result.run.latency.read?.count ?? 0).toBeGreaterThan(0);
      expect(result.run.latency.update?.count ?? 0).toBeGreaterThan(0);
    }
  });
});
