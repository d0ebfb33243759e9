/**
 * Structured JSON log lines on stderr, one object per line. (The first-usable-store issue moves
 * this onto pino with levels and metrics; the line shape stays.)
 */
export function logEvent(name: string, event: string, fields: Record<string, unknown> = {}): void {
  const line = { time: new Date().toISOString(), proc: name, event, ...fields };
  process.stderr.write(`${JSON.stringify(line)}\n`);
}
