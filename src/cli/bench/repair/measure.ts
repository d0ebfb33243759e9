/**
 * What `tessera bench repair` reads off the ring while it works: a repair session followed to
 * its end through `ring.describe` (its own counters and its own start and finish instants, so
 * that the duration is the node's, not the polling's), and a bootstrapping node followed until
 * the first node sees it normal, with what its progress text says it streamed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RepairSessionInfo } from '../../../ring/index.js';
import type { RingProcess } from './ring-process.js';
import { endpointIn, RingLink } from './ring-watch.js';

const mib = 1024 * 1024;
/** How often a running repair session is looked at. */
const repairPollMs = 100;
/** How often a bootstrapping node, and the first node's view of it, are looked at. */
const bootstrapPollMs = 50;
/**
 * How often a bootstrapping node is looked at while it streams. Its progress text is cleared
 * the moment it turns normal, so the streamed size is the last one seen: at most this old.
 */
const streamingPollMs = 10;

export interface RepairMeasure {
  readonly id: string;
  readonly state: RepairSessionInfo['state'];
  /** The session's own duration on the node (finished − started). */
  readonly seconds: number;
  readonly groups: number;
  readonly groupsIncomplete: number;
  readonly leavesCompared: number;
  readonly leavesDiffering: number;
  readonly rowsCompared: number;
  readonly rowsStreamed: number;
  readonly mibCompared: number;
  readonly mibStreamed: number;
  readonly mibPerSecondCompared: number;
  readonly mibPerSecondStreamed: number;
  readonly errors: readonly string[];
}

function repairMeasure(s: RepairSessionInfo): RepairMeasure {
  const seconds = Math.max(1e-6, (s.finishedMicros - s.startedMicros) / 1e6);
  const st = s.stats;
  return {
    id: s.id,
    state: s.state,
    seconds,
    groups: st.groups,
    groupsIncomplete: st.groupsIncomplete,
    leavesCompared: st.leavesCompared,
    leavesDiffering: st.leavesDiffering,
    rowsCompared: st.rowsCompared,
    rowsStreamed: st.rowsStreamed,
    mibCompared: st.bytesCompared / mib,
    mibStreamed: st.bytesStreamed / mib,
    mibPerSecondCompared: st.bytesCompared / mib / seconds,
    mibPerSecondStreamed: st.bytesStreamed / mib / seconds,
    errors: [...st.errors],
  };
}

/** Resolves with session `id` of `link`'s node once it is over; gives up after `timeoutMs`. */
export async function repairFinished(
  link: RingLink,
  id: string,
  timeoutMs: number,
): Promise<RepairMeasure> {
  const started = performance.now();
  for (;;) {
    if (!link.node.running) {
      throw new Error(`repair ${id}: ${link.node.options.name} exited:\n${link.node.stderrTail()}`);
    }
    const s = await link.session(id);
    if (s.state !== 'running') return repairMeasure(s);
    if (performance.now() - started > timeoutMs) {
      throw new Error(`repair ${id} still running after ${timeoutMs / 1000} s`);
    }
    await sleep(repairPollMs);
  }
}

export interface BootstrapMeasure {
  /** From the node's start to the first node seeing it normal and alive. */
  readonly seconds: number;
  /** Until the node said it was streaming (learning the ring, then the ring delay). */
  readonly secondsBeforeStreaming?: number;
  /** From the first progress line that counted streams to the node seeing itself normal. */
  readonly streamingSeconds?: number;
  /** What the node reports it streamed once normal (else the last progress line seen), MiB. */
  readonly mibStreamed?: number;
  readonly streamsDone?: number;
  readonly streams?: number;
  /** Bytes the node stores once normal (tables and memtables, as gossiped), in MiB. */
  readonly mibStored?: number;
}

const streamsProgress = /bootstrap: (\d+)\/(\d+) streams, ([0-9.]+) MB/;

/**
 * Starts `node` (started with `--bootstrap`) and resolves once `first`'s node sees it alive
 * and normal, with what it could learn of the streaming on the way.
 */
export async function bootstrapFinished(
  node: RingProcess,
  first: RingLink,
  timeoutMs: number,
  /** Told when the node is first seen streaming, and when it is first seen normal. */
  onPhase: (phase: 'streaming' | 'normal') => void = () => undefined,
): Promise<BootstrapMeasure> {
  const started = performance.now();
  await node.start();
  const self = new RingLink(node);
  let streamingFrom: number | undefined;
  let selfNormalAt: number | undefined;
  let last: RegExpExecArray | undefined;
  let lastFirstLook = -Infinity;
  try {
    for (;;) {
      if (!node.running) {
        throw new Error(`bootstrap: ${node.options.name} exited:\n${node.stderrTail()}`);
      }
      const now = performance.now();
      const own = await self.describe().catch(() => undefined);
      const me = own === undefined ? undefined : endpointIn(own, node.address);
      const m = streamsProgress.exec(me?.progress ?? '');
      if (m !== null) {
        last = m;
        if (streamingFrom === undefined) onPhase('streaming');
        streamingFrom ??= now;
      }
      if (me?.status === 'normal' && selfNormalAt === undefined) {
        onPhase('normal');
        selfNormalAt = now;
      }
      if (now - started > timeoutMs) {
        throw new Error(
          `bootstrap: ${node.options.name} not normal in node 1's view after ${timeoutMs / 1000} s ` +
            `(it says: ${me?.status ?? '?'}, '${me?.progress ?? '?'}')`,
        );
      }
      const streaming = m !== null && me?.status !== 'normal';
      if (streaming && now - lastFirstLook < bootstrapPollMs) {
        await sleep(streamingPollMs);
        continue;
      }
      lastFirstLook = now;
      const seen = endpointIn(await first.describe(), node.address);
      if (seen?.status === 'normal' && seen.alive) {
        const end = performance.now();
        // The node's own count of what it streamed, exact where the progress text was a look.
        const moved = (await self.describe().catch(() => undefined))?.movement;
        const streamed =
          moved !== undefined && moved.kind === 'bootstrap'
            ? { streamsDone: moved.streams, streams: moved.streams, mibStreamed: moved.bytes / mib }
            : last === undefined
              ? {}
              : {
                  streamsDone: Number(last[1]),
                  streams: Number(last[2]),
                  mibStreamed: Number(last[3]),
                };
        return {
          seconds: (end - started) / 1000,
          ...(streamingFrom === undefined
            ? {}
            : {
                secondsBeforeStreaming: (streamingFrom - started) / 1000,
                streamingSeconds: ((selfNormalAt ?? end) - streamingFrom) / 1000,
              }),
          ...streamed,
          ...(seen.load > 0 ? { mibStored: seen.load / mib } : {}),
        };
      }
      await sleep(streaming ? streamingPollMs : bootstrapPollMs);
    }
  } finally {
    await self.close();
  }
}
