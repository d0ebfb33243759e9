/**
 * Resolves after the current macrotask and every microtask queued so far. The simulator
 * awaits this between events so that all promise continuations an event triggers finish
 * before virtual time moves on; that is what makes async node code replayable.
 */
export function yieldToMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
