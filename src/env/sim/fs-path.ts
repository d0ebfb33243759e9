import { invalidArgument } from '../../util/errors.js';

/**
 * Splits a POSIX-style path into its components. The simulated disk has one root, so 'a/b',
 * '/a/b' and './a//b/' all name the same file; '..' may not climb above the root.
 */
export function pathComponents(path: string): string[] {
  if (path.includes('\0')) throw invalidArgument('path contains a NUL byte', { path });
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw invalidArgument('path climbs above the root', { path });
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts;
}

export function joinPath(parts: readonly string[]): string {
  return '/' + parts.join('/');
}
