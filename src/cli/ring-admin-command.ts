/**
 * `tessera decommission` and `tessera removenode`: Cassandra's nodetool commands of the same
 * names for the hashed-table ring. Both only start the range movement on a node
 * (`ring.decommission`, `ring.removenode`: src/ring/ring-node.ts) and then follow it through
 * `ring.describe`: the endpoint's status (leaving, then left) says where it is, and the moving
 * node's gossiped `progress` says what it streams. The movement runs on the node, so a command
 * that is interrupted leaves it going; running the command again while it runs is refused by
 * the node (RING_STATE) rather than starting a second one.
 *
 * A movement that fails puts the endpoint back to normal and says `… failed: why` in the
 * node's progress; the command reports that line and exits 1.
 */
import { Command } from 'commander';
import { formatAddress, parseAddress } from '../env/index.js';
import { realEnv } from '../env/real/index.js';
import type { DescribedEndpoint, RingDescription } from '../ring/index.js';
import { TesseraError } from '../util/errors.js';
import {
  defaultRingAddresses,
  parseTimeoutMs,
  pollDescription,
  reportError,
  RingNodeLink,
  splitAddresses,
} from './ring-command.js';

/** How often the movement is looked at. */
export const MOVEMENT_POLL_MS = 500;
const timeoutMsDefault = 2_000;

interface AdminOptions {
  connect?: string;
  timeout: number;
}

/** How a followed movement ended: `line` goes to stdout when ok, else to stderr. */
export interface Outcome {
  readonly ok: boolean;
  readonly line: string;
}

/**
 * `tessera decommission --connect HOST:PORT [--timeout MS]` — the node at that address hands
 * every range it holds to the endpoints that take them over and leaves the ring. The address
 * must be given: which node leaves is not something to default. Progress lines on stderr;
 * on success `HOST:PORT (NAME) has left the ring: …; it can be stopped now` on stdout, exit 0.
 * Exit 1 when the movement fails (`decommission failed: …` on stderr), or with `ERROR <CODE>:
 * message` when the node cannot be reached, is not a ring node, or is not normal (RING_STATE).
 */
export function decommissionCommand(): Command {
  return new Command('decommission')
    .description(
      "stream this ring node's ranges to the nodes taking them over, then leave the ring",
    )
    .requiredOption('--connect <address>', 'the ring node that leaves: host:port')
    .option(
      '--timeout <ms>',
      'connect and per-call timeout in milliseconds',
      parseTimeoutMs,
      timeoutMsDefault,
    )
    .action(async (opts: AdminOptions & { connect: string }) => {
      await run(opts.connect, opts.timeout, false, async (link) => {
        await link.call('ring.decommission', {});
        return followDecommission(link);
      });
    });
}

/**
 * `tessera removenode ID [--connect HOST:PORT[,…]] [--timeout MS]` — removes a dead endpoint
 * (ID is its address, as `tessera ring` lists it): the node asked (the first of the addresses
 * that accepts a connection, by default those `tessera ring` asks) marks it leaving, streams its
 * ranges' data from the surviving replicas to the endpoints that take them over, then marks it
 * left. Progress lines on stderr; on success `ID has been removed from the ring: …` on stdout,
 * exit 0. Exit 1 when the movement fails, or with `ERROR <CODE>: message` (RING_STATE: the
 * endpoint is alive — decommission it instead —, unknown, or the node asked itself).
 */
export function removenodeCommand(): Command {
  return new Command('removenode')
    .description('remove a dead ring node: rebuild its replicas from the survivors')
    .argument('<id>', "the dead endpoint's id (its host:port, as tessera ring lists it)")
    .option('--connect <addresses>', 'a live ring node to run it, first reachable: host:port[,…]')
    .option(
      '--timeout <ms>',
      'connect and per-call timeout in milliseconds',
      parseTimeoutMs,
      timeoutMsDefault,
    )
    .action(async (id: string, opts: AdminOptions) => {
      await run(opts.connect ?? defaultRingAddresses(), opts.timeout, true, async (link) => {
        const dead = formatAddress(parseAddress(id));
        await link.call('ring.removenode', { id: dead });
        return followRemoval(link, dead);
      });
    });
}

/** Connects, starts and follows a movement, and reports how it ended. */
async function run(
  connect: string,
  timeoutMs: number,
  list: boolean,
  body: (link: RingNodeLink) => Promise<Outcome>,
): Promise<void> {
  let link: RingNodeLink | undefined;
  try {
    const addresses = splitAddresses(connect);
    if (!list && addresses.length > 1) {
      throw new TesseraError('INVALID_ARGUMENT', '--connect takes the one node that leaves');
    }
    const env = realEnv({ name: 'ring-admin', root: process.cwd() });
    link = await RingNodeLink.open(env, addresses, timeoutMs);
    const outcome = await body(link);
    if (outcome.ok) process.stdout.write(`${outcome.line}\n`);
    else {
      process.stderr.write(`${outcome.line}\n`);
      process.exitCode = 1;
    }
  } catch (err) {
    reportError(err);
  } finally {
    await link?.close();
  }
}

/** Prints the progress text each time it changes. */
function progressPrinter(): (text: string) => void {
  let last: string | undefined;
  return (text) => {
    if (text !== '' && text !== last) process.stderr.write(`${text}\n`);
    last = text;
  };
}

function selfOf(d: RingDescription): DescribedEndpoint | undefined {
  return d.endpoints.find((e) => e.id === d.self);
}

/** Polls the leaving node until it is left, or back to normal (the movement failed). */
export function followDecommission(link: RingNodeLink): Promise<Outcome> {
  const print = progressPrinter();
  return pollDescription(link, MOVEMENT_POLL_MS, (d) => decommissionStep(d, print));
}

/** One look at the leaving node: undefined while it is still leaving. */
export function decommissionStep(
  d: RingDescription,
  print: (text: string) => void = () => undefined,
): Outcome | undefined {
  const self = selfOf(d);
  const progress = self?.progress ?? '';
  if (self?.status === 'left') {
    const what = progress === '' ? '' : `: ${progress}`;
    return {
      ok: true,
      line: `${d.self} (${self.name}) has left the ring${what}; it can be stopped now`,
    };
  }
  // ring.decommission makes the node leaving before it answers: normal again means it failed
  // (the progress may have been overwritten since by a repair's).
  if (progress.startsWith('decommission failed') || self?.status === 'normal') {
    return {
      ok: false,
      line: progress.startsWith('decommission failed')
        ? `${d.self}: ${progress}`
        : `${d.self}: decommission failed (the node is normal again)`,
    };
  }
  print(progress);
  return undefined;
}

/** Polls the node asked until the dead endpoint is left, or normal again (the removal failed). */
export function followRemoval(link: RingNodeLink, dead: string): Promise<Outcome> {
  const print = progressPrinter();
  return pollDescription(link, MOVEMENT_POLL_MS, (d) => removalStep(d, dead, print));
}

/** One look at the node running a removenode: undefined while the endpoint is still leaving. */
export function removalStep(
  d: RingDescription,
  dead: string,
  print: (text: string) => void = () => undefined,
): Outcome | undefined {
  const progress = selfOf(d)?.progress ?? '';
  const target = d.endpoints.find((e) => e.id === dead);
  const failed = `removenode ${dead} failed`;
  // An endpoint no longer listed has been forgotten by gossip: it is gone.
  if (target === undefined || target.status === 'left') {
    const what = progress === '' ? '' : `: ${progress}`;
    return { ok: true, line: `${dead} has been removed from the ring${what}` };
  }
  if (progress.startsWith(failed) || target.status === 'normal') {
    return {
      ok: false,
      line: progress.startsWith(failed)
        ? `${d.self}: ${progress}`
        : `${d.self}: removenode ${dead} failed (it is normal again)`,
    };
  }
  print(progress);
  return undefined;
}
