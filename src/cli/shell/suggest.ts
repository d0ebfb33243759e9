/**
 * "Did you mean": the closest command or option name to a mistyped one, and the error for an
 * unknown command.
 */
import { syntaxError, type Position } from './lexer.js';

/** Edit distance counting an adjacent transposition as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate to `word` (case-insensitive), when one is close enough to suggest. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d =
      c.toLowerCase().startsWith(w) && w.length >= 2 ? 0.5 : editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const allowed = word.length <= 3 ? 1 : Math.max(2, Math.floor(word.length / 3));
  return bestD <= allowed ? best : undefined;
}

/** The error for a command that does not exist, suggesting the closest of `names`. */
export function unknownCommand(name: string, at: Position, names: readonly string[]): Error {
  const s = suggest(name, names);
  return syntaxError(
    `unknown command '${name}'`,
    at,
    s !== undefined ? `did you mean '${s}'?` : "type 'help' for the list of commands",
  );
}
