/**
 * The servers this benchmark process has started and not yet stopped (tessera nodes, a
 * redis-server), so that a signal stops them too. Without this, SIGTERM (from `kill`, which the
 * re-run's parent passes on, load-generator-flags.ts) or SIGHUP ended the benchmark at once and
 * left its nodes, its children, running with their data directories; a 3-node ring run left
 * three. On the first SIGINT, SIGTERM or SIGHUP the benchmark stops every tracked server (each
 * stop removes the server's directory), waits at most `signalStopTimeoutMs`, and exits with
 * 128 + the signal's number, as the default action would have.
 */
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** Longest a signalled benchmark waits for its servers to stop before it exits anyway. */
const signalStopTimeoutMs = 15_000;
const stopSignals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const live = new Set<() => Promise<void>>();
let installed = false;

/**
 * Tracks a started server until it stops; returns its stop, which untracks it, and which may be
 * called more than once (the server is stopped once).
 */
export function trackServer(stop: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const once = (): Promise<void> => {
    stopping ??= stop().finally(() => live.delete(once));
    return stopping;
  };
  live.add(once);
  return once;
}

/** Servers started and not yet stopped. */
export function trackedServers(): number {
  return live.size;
}

/** From now on, a stop signal stops every tracked server before the process exits. */
export function stopServersOnSignals(): void {
  if (installed) return;
  installed = true;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = true;
    const stops = Promise.allSettled([...live].map((stop) => stop()));
    void Promise.race([stops, sleep(signalStopTimeoutMs)]).then(() => {
      process.exit(128 + constants.signals[signal]);
    });
  };
  for (const signal of stopSignals) process.on(signal, onSignal);
}
