/**
 * A throw-away ring of `tessera node --ring --sync always` processes for `tessera bench ycsb
 * --ring n` (and the one-node ring of `--compare ring1`): the first node forms the ring, the
 * others join with it as their seed, each in its own temporary directory on a loopback port.
 *
 * The benchmark measures a ring that has formed, not one forming. Until gossip has told a node
 * about every peer, it places replicas on the nodes it knows of and may count a peer as down;
 * and a hashed table's schema reaches the other nodes by gossip too, so a request that reaches
 * a node which has not heard of the table yet fails. So the ring is handed out only once every
 * node's `ring.describe` shows all n nodes alive and normal, and `waitForTable` returns only
 * once every node lists the table; either gives up with the state each node last reported.
 */
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAddress } from '../../../env/index.js';
import { realEnv } from '../../../env/real/index.js';
import type { RingDescription } from '../../../ring/index.js';
import { RpcClient } from '../../../wire/index.js';
import { checkDescription } from '../../ring-command.js';
import { startYcsbNode, type YcsbNode } from './tessera-node.js';

/** Most nodes `--ring` starts: each is a Node.js process of its own on this machine. */
export const RING_NODES_MAX = 16;
/** How long the ring may take to form, and a new table to reach every node. */
export const RING_SETTLE_TIMEOUT_MS = 30_000;
/** Pause between two rounds of `ring.describe` while waiting. */
const ringPollIntervalMs = 100;
/** Time allowed to connect to a node and for its `ring.describe` to answer. */
const describeTimeoutMs = 2_000;
/** Time a node has to stop after SIGTERM before it is killed, so that none is left behind. */
const nodeStopTimeoutMs = 10_000;

export interface YcsbRing {
  readonly nodes: readonly YcsbNode[];
  /** `host:port` of every node, in start order. */
  readonly addresses: readonly string[];
  /** Peak resident set of each node in KiB (VmHWM), undefined where unreadable. */
  peakRssKiB(): readonly (number | undefined)[];
  /** Resolves once every node's `ring.describe` lists the hashed table `name` at `rf`. */
  waitForTable(name: string, replicationFactor: number): Promise<void>;
  /** Stops every node (SIGTERM, then SIGKILL after 10 s) and removes their directories. */
  stop(): Promise<void>;
}

/** Starts `count` ring nodes and waits until each sees all of them alive and normal. */
export async function startYcsbRing(
  count: number,
  timeoutMs = RING_SETTLE_TIMEOUT_MS,
): Promise<YcsbRing> {
  if (!(Number.isSafeInteger(count) && count >= 1 && count <= RING_NODES_MAX)) {
    throw new RangeError(`a ring has 1 to ${RING_NODES_MAX} nodes, not ${count}`);
  }
  const nodes: YcsbNode[] = [];
  try {
    nodes.push(await startYcsbNode({ name: 'ycsb-ring-1', ring: { seeds: [] } }));
    const seeds = [nodes[0]!.address];
    const rest = await Promise.allSettled(
      Array.from({ length: count - 1 }, (_, i) =>
        startYcsbNode({ name: `ycsb-ring-${i + 2}`, ring: { seeds } }),
      ),
    );
    for (const r of rest) if (r.status === 'fulfilled') nodes.push(r.value);
    const failed = rest.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    await settle(nodes, timeoutMs, `the ${count}-node ring did not form`, (d) =>
      membershipGap(d, count),
    );
  } catch (err) {
    await stopNodes(nodes);
    throw err;
  }
  return {
    nodes,
    addresses: nodes.map((n) => n.address),
    peakRssKiB: () => nodes.map((n) => n.peakRssKiB()),
    waitForTable: (name, rf) =>
      settle(nodes, timeoutMs, `table '${name}' did not reach every ring node`, (d) =>
        tableGap(d, name, rf),
      ),
    stop: () => stopNodes(nodes),
  };
}

/** What keeps a node's view from showing `count` nodes alive and normal; undefined if none. */
function membershipGap(d: RingDescription, count: number): string | undefined {
  const up = d.endpoints.filter((e) => e.alive && e.status === 'normal');
  if (up.length === count && d.endpoints.length === count) return undefined;
  const others = d.endpoints
    .filter((e) => !(e.alive && e.status === 'normal'))
    .map((e) => `${e.id} ${e.alive ? 'up' : 'down'} ${e.status}`);
  const which = others.length > 0 ? ` (${others.join(', ')})` : '';
  return `knows ${d.endpoints.length} of ${count} nodes, ${up.length} up and normal${which}`;
}

function tableGap(d: RingDescription, name: string, rf: number): string | undefined {
  const table = d.tables.find((t) => t.name === name);
  if (table === undefined) return `does not know table '${name}' yet`;
  if (table.replicationFactor !== rf) return `has '${name}' at RF=${table.replicationFactor}`;
  return undefined;
}

function exited(node: YcsbNode): boolean {
  return node.proc.exitCode !== null || node.proc.signalCode !== null;
}

/**
 * Polls every node's `ring.describe` until `gap` finds nothing missing on any of them. Fails
 * at once when a node has exited, and after `timeoutMs` with what each node last reported.
 */
async function settle(
  nodes: readonly YcsbNode[],
  timeoutMs: number,
  failure: string,
  gap: (d: RingDescription) => string | undefined,
): Promise<void> {
  const env = realEnv({ name: 'bench-ycsb-ring', root: tmpdir() });
  const clients = new Map<YcsbNode, RpcClient>();
  const deadline = performance.now() + timeoutMs;
  const describe = async (node: YcsbNode): Promise<RingDescription> => {
    let client = clients.get(node);
    if (client === undefined || client.closed) {
      client = await RpcClient.connect(env, parseAddress(node.address), {
        timeoutMs: describeTimeoutMs,
      });
      clients.set(node, client);
    }
    return checkDescription(
      await client.call('ring.describe', {}, { timeoutMs: describeTimeoutMs }),
      node.address,
    );
  };
  try {
    for (;;) {
      const gone = nodes.find(exited);
      if (gone !== undefined) {
        throw new Error(
          `${failure}: ring node ${gone.address} exited (code ${gone.proc.exitCode ?? gone.proc.signalCode}):\n${gone.stderrTail()}`,
        );
      }
      const gaps = await Promise.all(
        nodes.map(async (node) => {
          try {
            return gap(await describe(node));
          } catch (err) {
            return `ring.describe failed: ${err instanceof Error ? err.message : String(err)}`;
          }
        }),
      );
      const open = nodes.flatMap((n, i) =>
        gaps[i] === undefined ? [] : [`${n.address} ${gaps[i]}`],
      );
      if (open.length === 0) return;
      if (performance.now() >= deadline) {
        throw new Error(`${failure} within ${timeoutMs / 1000} s: ${open.join('; ')}`);
      }
      await sleep(ringPollIntervalMs);
    }
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close().catch(() => undefined)));
  }
}

async function stopNode(node: YcsbNode): Promise<void> {
  const stopped = node.stop();
  const abort = new AbortController();
  const late = sleep(nodeStopTimeoutMs, true, { signal: abort.signal }).catch(() => false);
  const tooLate = await Promise.race([stopped.then(() => false), late]);
  abort.abort();
  if (tooLate) {
    node.proc.kill('SIGKILL');
    await stopped;
  }
}

function stopNodes(nodes: readonly YcsbNode[]): Promise<void> {
  return Promise.all(nodes.map(stopNode)).then(() => undefined);
}
