/**
 * Lock-service paths: absolute, `/`-separated names such as `/tessera/master`.
 *
 * A valid path starts with `/`, has no empty segments (so no `//` and no trailing `/` except
 * the root `/` itself), no `.` or `..` segments, only printable characters, and stays within
 * MAX_PATH_BYTES (UTF-8) and MAX_PATH_DEPTH segments. Anything else is INVALID_PATH.
 */
import { utf8ByteLength } from '../util/byte-io.js';
import { TesseraError } from '../util/errors.js';

/** Longest path accepted, in UTF-8 bytes (sequential suffixes included). */
export const MAX_PATH_BYTES = 1024;
/** Most segments a path may have; the root has depth 0. */
export const MAX_PATH_DEPTH = 64;

export const ROOT_PATH = '/';

function invalidPath(path: string, why: string): TesseraError {
  return new TesseraError('INVALID_PATH', `invalid path ${JSON.stringify(path)}: ${why}`, {
    path,
  });
}

/** True for code points that are not printable: C0/C1 controls, DEL, noncharacters. */
function unprintable(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe ||
    cp === 0x2028 ||
    cp === 0x2029
  );
}

function checkSegment(path: string, seg: string): void {
  if (seg.length === 0) throw invalidPath(path, 'empty segment');
  if (seg === '.' || seg === '..') throw invalidPath(path, `"${seg}" segment`);
  for (let i = 0; i < seg.length; i++) {
    const cu = seg.charCodeAt(i);
    let cp = cu;
    if (cu >= 0xd800 && cu <= 0xdbff) {
      const lo = seg.charCodeAt(i + 1);
      if (!(lo >= 0xdc00 && lo <= 0xdfff)) throw invalidPath(path, 'not valid UTF-8');
      cp = 0x10000 + ((cu - 0xd800) << 10) + (lo - 0xdc00);
      i++;
    } else if (cu >= 0xdc00 && cu <= 0xdfff) {
      throw invalidPath(path, 'not valid UTF-8');
    }
    if (unprintable(cp)) {
      throw invalidPath(path, `unprintable character U+${cp.toString(16).padStart(4, '0')}`);
    }
  }
}

/** Throws INVALID_PATH unless `path` is a valid absolute path. */
export function validatePath(path: string): void {
  if (typeof path !== 'string') throw invalidPath(String(path), 'not a string');
  if (!path.startsWith('/')) throw invalidPath(path, 'must start with "/"');
  if (path.length > MAX_PATH_BYTES || utf8ByteLength(path) > MAX_PATH_BYTES) {
    throw invalidPath(path, `longer than ${MAX_PATH_BYTES} bytes`);
  }
  if (path === ROOT_PATH) return;
  const segs = path.slice(1).split('/');
  if (segs.length > MAX_PATH_DEPTH) throw invalidPath(path, `deeper than ${MAX_PATH_DEPTH}`);
  for (const seg of segs) checkSegment(path, seg);
}

export function isValidPath(path: string): boolean {
  try {
    validatePath(path);
    return true;
  } catch (_e) {
    return false;
  }
}

/** Throws INVALID_PATH unless `name` is a valid single segment (a child name). */
export function validateName(name: string): void {
  if (name.includes('/')) throw invalidPath(name, 'a name may not contain "/"');
  checkSegment(name, name);
}

/** The segments of a valid path; `[]` for the root. */
export function pathSegments(path: string): string[] {
  return path === ROOT_PATH ? [] : path.slice(1).split('/');
}

/** The parent of a valid non-root path. */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  if (path === ROOT_PATH || i < 0) throw invalidPath(path, 'the root has no parent');
  return i === 0 ? ROOT_PATH : path.slice(0, i);
}

/** The last segment of a valid non-root path. */
export function baseName(path: string): string {
  if (path === ROOT_PATH) throw invalidPath(path, 'the root has no name');
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The path of child `name` under `parent`. */
export function childPath(parent: string, name: string): string {
  return parent === ROOT_PATH ? `/${name}` : `${parent}/${name}`;
}

/** True when `ancestor` is `path` or one of its ancestors. */
export function isAncestorOrSelf(ancestor: string, path: string): boolean {
  if (ancestor === ROOT_PATH || ancestor === path) return true;
  return path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 0x2f;
}
