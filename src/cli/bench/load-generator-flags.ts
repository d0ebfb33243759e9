/**
 * V8 flags for the YCSB benchmark process itself — the load generator, not the system under
 * test. They only take effect when the process starts, so `tessera bench ycsb` runs itself
 * again in a child process started with them when it was not.
 *
 * Why: once the load generator's V8 ran one major GC during a run, every later scavenge
 * promoted ~2.5 MB, about all the objects of the replies decoded since the last one, so major
 * GCs followed every ~200 ms and the process spent twice the CPU per operation (YCSB C: 27
 * major GCs and 60–70k ops/s, p99 3+ ms; without a major GC: 1 and 90–98k, p99 ~0.9 ms). Which
 * runs did depended on where V8's old-generation limit, sized from the ~8 MB live at start, fell
 * when the load phase ended: 5 and 4 runs of 8 went the slow way in two series, and a forced
 * `gc()` at the start of the run phase made all of them. Starting with a 256 MiB old generation keeps a run's load
 * generator clear of major GCs (0 in 6 runs of C, all at 83–97k). Redis is driven by the same
 * process, so both systems get the same load generator. The promotion itself is not understood
 * yet (docs/benchmarks.md): an application using the client may meet it too, and this setting,
 * the benchmark's own, does not protect it.
 */
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { constants } from 'node:os';

export const LOAD_GENERATOR_V8_FLAGS: readonly string[] = ['--initial-old-space-size=256'];

/** The process was started with the flags, or is not the `tessera` command (a test, say). */
export function loadGeneratorFlagsInPlace(): boolean {
  const script = process.argv[1];
  if (script === undefined || !/^tessera(\.js)?$/.test(basename(script))) return true;
  return LOAD_GENERATOR_V8_FLAGS.every((f) => process.execArgv.includes(f));
}

/**
 * Runs this same command again in a child process started with the flags, its output this
 * process's own; resolves to its exit code. Ctrl-C reaches the child from the terminal (one
 * process group), so this process only waits for it; SIGTERM and SIGHUP are passed on.
 */
export function rerunWithLoadGeneratorFlags(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, ...LOAD_GENERATOR_V8_FLAGS, ...process.argv.slice(1)],
      { stdio: 'inherit' },
    );
    const ignore = (): void => undefined;
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', ignore);
    process.on('SIGTERM', forward);
    process.on('SIGHUP', forward);
    const done = (): void => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', forward);
      process.off('SIGHUP', forward);
    };
    child.on('error', (err) => {
      done();
      reject(err);
    });
    child.on('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
    });
  });
}
