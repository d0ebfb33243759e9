/**
 * Small durable state files of a ring node (docs/formats/ring-state.md): the node's tokens and
 * generation (node.json) and its hashed-table schemas (schema.json).
 *
 * A file is one line of JSON, a newline, and the CRC32C of the JSON's bytes as 8 lower-case hex
 * digits and a newline. It is replaced atomically: written to `<name>.tmp`, fsynced, renamed
 * over the old file, and the directory fsynced, so a crash leaves the old file or the new one,
 * never a mix. A file whose checksum fails is CORRUPTION: it is reported, never used.
 */
import type { Env } from '../env/index.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { crc32c } from '../util/crc32c.js';
import { corruption, isTesseraError } from '../util/errors.js';

/** State files are small; anything larger is not one of ours. */
export const STATE_FILE_BYTES_MAX = 16 * 1024 * 1024;

function join(dir: string, name: string): string {
  return dir === '' || dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** Writes `value` as JSON to `<dir>/<name>`, durably and atomically. */
export async function writeStateFile(
  env: Env,
  dir: string,
  name: string,
  value: unknown,
): Promise<void> {
  const json = utf8(JSON.stringify(value));
  const text = utf8(`${fromUtf8(json)}\n${hex8(crc32c(json))}\n`);
  const tmp = join(dir, `${name}.tmp`);
  await env.fs.writeFile(tmp, text, { sync: true });
  await env.fs.rename(tmp, join(dir, name));
  await env.fs.syncDir(dir);
}

/** The parsed JSON of `<dir>/<name>`; undefined when there is no such file; CORRUPTION when damaged. */
export async function readStateFile(env: Env, dir: string, name: string): Promise<unknown> {
  const path = join(dir, name);
  let bytes: Uint8Array;
  try {
    bytes = await env.fs.readFile(path);
  } catch (err) {
    if (isTesseraError(err, 'NOT_FOUND')) return undefined;
    throw err;
  }
  if (bytes.length > STATE_FILE_BYTES_MAX) throw corruption(`${path} is too large`, { path });
  const text = fromUtf8(bytes);
  const m = /^([^\n]*)\n([0-9a-f]{8})\n$/.exec(text);
  if (m === null) throw corruption(`${path} is not a state file (JSON, newline, CRC32C)`, { path });
  const json = utf8(m[1]!);
  if (hex8(crc32c(json)) !== m[2]) throw corruption(`${path} failed its checksum`, { path });
  try {
    return JSON.parse(m[1]!) as unknown;
  } catch {
    throw corruption(`${path} holds bad JSON under a good checksum`, { path });
  }
}
