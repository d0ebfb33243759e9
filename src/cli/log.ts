/**
 * Structured logs: pino writing one JSON object per line to stderr (stdout is kept for the
 * control lines other tools read, such as the `ready` line). See docs/observability.md.
 *
 * Every line has `level` (its name: "info"), `time` (ISO 8601, UTC) and `proc` (the process's
 * name: "node1", "lock2", "local"); lines written through `logEvent` also have `event`.
 * The level comes from $TESSERA_LOG_LEVEL (trace, debug, info, warn, error, fatal, silent),
 * default info.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVEL_ENV = 'TESSERA_LOG_LEVEL';
export const LOG_LEVEL_DEFAULT = 'info';
const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** The level named by `value` ($TESSERA_LOG_LEVEL), or the default when unset or unknown. */
export function logLevelFrom(value: string | undefined): string {
  const v = value?.trim().toLowerCase();
  return v !== undefined && (logLevels as readonly string[]).includes(v) ? v : LOG_LEVEL_DEFAULT;
}

let root: Logger | undefined;
const byName = new Map<string, Logger>();

function rootLogger(): Logger {
  if (root === undefined) {
    const requested = process.env[LOG_LEVEL_ENV];
    const level = logLevelFrom(requested);
    root = pino(
      {
        level,
        base: null,
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      // Synchronous: the last lines before an exit (a crash, `stopped`) must not be lost.
      pino.destination({ fd: 2, sync: true }),
    );
    if (requested !== undefined && requested.trim() !== '' && level !== requested.trim()) {
      root.warn({ proc: 'log', event: 'bad-log-level', value: requested }, 'unknown log level');
    }
  }
  return root;
}

/** The logger of process `name`: a pino logger whose lines carry `proc: name`. */
export function logger(name: string): Logger {
  let l = byName.get(name);
  if (l === undefined) {
    l = rootLogger().child({ proc: name });
    byName.set(name, l);
  }
  return l;
}

/**
 * One `info` line naming an event: `{"level":"info","time":…,"proc":name,"event":event,…fields}`.
 * Kept for the existing callers; new code may use `logger(name)` and pick its level.
 */
export function logEvent(name: string, event: string, fields: Record<string, unknown> = {}): void {
  logger(name).info({ event, ...fields });
}
