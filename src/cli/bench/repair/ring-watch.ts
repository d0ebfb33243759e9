/**
 * The benchmark's view of its ring through the ring RPCs: `ring.describe` of one node (the
 * membership it sees, its repair sessions) and `ring.repair` to start a session. Every wait
 * polls and gives up after a named time with what the nodes last reported, and fails at once
 * when a node it waits on has exited, with that node's last stderr lines.
 */
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAddress } from '../../../env/index.js';
import { realEnv } from '../../../env/real/index.js';
import type { DescribedEndpoint, RepairSessionInfo, RingDescription } from '../../../ring/index.js';
import { RpcClient } from '../../../wire/index.js';
import { checkDescription } from '../../ring-command.js';
import type { RingProcess } from './ring-process.js';

/** Time allowed to connect to a node and for one call to answer. */
const callTimeoutMs = 5_000;

/** A connection to one ring node, made again when it was lost (the node restarted). */
export class RingLink {
  private readonly env = realEnv({ name: 'bench-repair', root: tmpdir() });
  private client: RpcClient | undefined;

  constructor(readonly node: RingProcess) {}

  private async connection(): Promise<RpcClient> {
    if (this.client === undefined || this.client.closed) {
      this.client = await RpcClient.connect(this.env, parseAddress(this.node.address), {
        timeoutMs: callTimeoutMs,
      });
    }
    return this.client;
  }

  async describe(): Promise<RingDescription> {
    const client = await this.connection();
    return checkDescription(
      await client.call('ring.describe', {}, { timeoutMs: callTimeoutMs }),
      this.node.address,
    );
  }

  /** Starts a repair session of `table` over every range of the ring; resolves to its id. */
  async startRepair(table: string): Promise<string> {
    const client = await this.connection();
    const reply = (await client.call(
      'ring.repair',
      { table, scope: 'all' },
      { timeoutMs: callTimeoutMs },
    )) as { id?: unknown } | null;
    if (typeof reply?.id !== 'string') throw new Error('malformed ring.repair reply');
    return reply.id;
  }

  /** The session `id` as the node reports it now; an error when the node has forgotten it. */
  async session(id: string): Promise<RepairSessionInfo> {
    const found = (await this.describe()).repairs?.find((r) => r.id === id);
    if (found === undefined) throw new Error(`${this.node.address} does not list repair ${id}`);
    return found;
  }

  async close(): Promise<void> {
    await this.client?.close().catch(() => undefined);
    this.client = undefined;
  }
}

/** This endpoint as `d` sees it, or undefined when `d` does not know it. */
export function endpointIn(d: RingDescription, address: string): DescribedEndpoint | undefined {
  return d.endpoints.find((e) => e.id === address);
}

/** What keeps `d` from showing exactly `addresses`, alive and normal; undefined if nothing. */
export function membershipGap(
  d: RingDescription,
  addresses: readonly string[],
): string | undefined {
  const gaps: string[] = [];
  for (const a of addresses) {
    const e = endpointIn(d, a);
    if (e === undefined) gaps.push(`${a} unknown`);
    else if (!(e.alive && e.status === 'normal'))
      gaps.push(`${a} ${e.alive ? 'up' : 'down'} ${e.status}`);
  }
  const extra = d.endpoints.filter((e) => !addresses.includes(e.id)).map((e) => e.id);
  if (extra.length > 0) gaps.push(`also knows ${extra.join(', ')}`);
  return gaps.length === 0 ? undefined : gaps.join(', ');
}

/**
 * Polls every link's `ring.describe` every `intervalMs` until `gap` finds nothing missing on
 * any; fails at once when one of `watched` has exited, and after `timeoutMs` with what each
 * node last reported.
 */
export async function waitForRing(
  links: readonly RingLink[],
  gap: (d: RingDescription) => string | undefined,
  what: string,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const started = performance.now();
  for (;;) {
    const gone = links.find((l) => !l.node.running);
    if (gone !== undefined) {
      throw new Error(
        `${what}: ${gone.node.options.name} is not running:\n${gone.node.stderrTail()}`,
      );
    }
    const gaps = await Promise.all(
      links.map(async (l) => {
        try {
          return gap(await l.describe());
        } catch (err) {
          return `ring.describe failed: ${err instanceof Error ? err.message : String(err)}`;
        }
      }),
    );
    const open = links.flatMap((l, i) =>
      gaps[i] === undefined ? [] : [`${l.node.options.name} sees ${gaps[i]}`],
    );
    if (open.length === 0) return;
    if (performance.now() - started >= timeoutMs) {
      throw new Error(`${what} within ${timeoutMs / 1000} s: ${open.join('; ')}`);
    }
    await sleep(intervalMs);
  }
}
