/**
 * Frame encoding into coalesced output chunks.
 *
 * Frames are written back to back into a slab (64 KiB by default); `take()` hands out the
 * written part of the slab as one chunk and later frames continue after it, so a burst of small
 * frames becomes one socket write and a slab is never written twice. Bodies of at least
 * COPY_BYTES_MAX bytes are not copied: their header goes in the slab and the body is queued as
 * its own chunk. A frame either goes in whole or not at all: every check that can fail
 * (encodability, the peer's frame limit) runs before a byte is queued.
 */
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import { encodeErrorBody, encodeMethod, encodeValue } from './codec.js';
import { packedSize, writePacked } from './flat-pack.js';
import {
  FRAME_BYTES_DEFAULT,
  FrameKind,
  HEADER_AFTER_LENGTH_BYTES,
  HEADER_BYTES,
  HELLO_FRAME_BYTES_MAX,
  HELLO_HEAD_BYTES,
  MAGIC,
  REQUEST_HEAD_BYTES,
  frameKindName,
  writeHeader,
  writeU16,
  writeU32,
} from './format.js';

const SLAB_BYTES = 64 * 1024;
/** Bodies this large or larger are queued as their own chunk instead of copied. */
const COPY_BYTES_MAX = 16 * 1024;
const EMPTY = new Uint8Array(0);

export class FrameEncoder {
  /** Largest frame the peer accepts (from its HELLO / HELLO_ACK); larger ones are refused. */
  peerMaxFrameBytes: number = FRAME_BYTES_DEFAULT;

  private slab: Uint8Array = EMPTY;
  private slabView: DataView = new DataView(EMPTY.buffer);
  /** Start of the slab bytes not yet handed out by take(). */
  private slabStart = 0;
  private slabPos = 0;
  private readonly chunks: Uint8Array[] = [];
  private queued = 0;

  /** Bytes queued and not yet taken. */
  get pendingBytes(): number {
    return this.queued;
  }

  /**
   * Queues a REQUEST. Throws INVALID_ARGUMENT (bad method name, unencodable args) or
   * FRAME_TOO_LARGE (over the peer's limit); nothing is queued then.
   */
  request(requestId: number, timeoutMs: number, method: string, args: unknown): void {
    const methodBytes = encodeMethod(method);
    const headBytes = HEADER_BYTES + REQUEST_HEAD_BYTES + methodBytes.length;
    // Small arguments of plain objects, arrays and scalars go straight into the slab, as small
    // replies do (see response): a put's cells were msgpackr's to walk, a sixth of a YCSB
    // client's CPU.
    const size = packedSize(args, COPY_BYTES_MAX - 1);
    if (size >= 0) {
      const total = headBytes + size;
      this.checkSize(FrameKind.REQUEST, total);
      const b = this.reserve(total);
      const o = this.slabPos;
      this.writeRequestHead(b, o, total, requestId, timeoutMs, methodBytes);
      const end = writePacked(args, b, this.slabView, o + headBytes);
      assert(end === o + total, 'packed request written to its computed size');
      this.slabPos = end;
      this.queued += total;
      this.onQueued();
      return;
    }
    const body = encodeValue(args);
    this.checkSize(FrameKind.REQUEST, headBytes + body.length);
    const b = this.reserve(headBytes + (body.length < COPY_BYTES_MAX ? body.length : 0));
    this.writeRequestHead(
      b,
      this.slabPos,
      headBytes + body.length,
      requestId,
      timeoutMs,
      methodBytes,
    );
    this.slabPos += headBytes;
    this.appendBody(body);
    this.queued += headBytes + body.length;
    this.onQueued();
  }

  /** A REQUEST's frame header, timeout and method name at b[o...] for a frame of `total` bytes. */
  private writeRequestHead(
    b: Uint8Array,
    o: number,
    total: number,
    requestId: number,
    timeoutMs: number,
    methodBytes: Uint8Array,
  ): void {
    writeHeader(b, o, total - 4, FrameKind.REQUEST, requestId);
    writeU32(b, o + HEADER_BYTES, timeoutMs);
    b[o + HEADER_BYTES + 4] = methodBytes.length;
    b.set(methodBytes, o + HEADER_BYTES + REQUEST_HEAD_BYTES);
  }

  /**
   * Queues a RESPONSE. Throws INVALID_ARGUMENT (unencodable result) or FRAME_TOO_LARGE; the
   * caller answers with an ERROR frame instead.
   */
  response(requestId: number, result: unknown): void {
    // Replies of plain objects, arrays and scalars are written by flat-pack.ts, the bytes
    // encodeValue would give: a small one straight into the slab (no body of its own to
    // allocate and copy), a large one into one array of exactly its size.
    const size = packedSize(result, this.peerMaxFrameBytes - HEADER_BYTES);
    if (size >= 0 && size < COPY_BYTES_MAX) {
      const total = HEADER_BYTES + size;
      this.checkSize(FrameKind.RESPONSE, total);
      const b = this.reserve(total);
      writeHeader(b, this.slabPos, total - 4, FrameKind.RESPONSE, requestId);
      const end = writePacked(result, b, this.slabView, this.slabPos + HEADER_BYTES);
      assert(end === this.slabPos + total, 'packed reply written to its computed size');
      this.slabPos = end;
      this.queued += total;
      this.onQueued();
      return;
    }
    if (size >= 0) {
      const body = new Uint8Array(size);
      const end = writePacked(result, body, new DataView(body.buffer), 0);
      assert(end === size, 'packed reply written to its computed size');
      this.bodyFrame(FrameKind.RESPONSE, requestId, body);
      return;
    }
    this.bodyFrame(FrameKind.RESPONSE, requestId, encodeValue(result));
  }

  /** Queues an ERROR frame; never throws (the body is bounded to fit every legal peer limit). */
  error(requestId: number, error: TesseraError): void {
    this.bodyFrame(FrameKind.ERROR, requestId, encodeErrorBody(error));
  }

  /** Queues a CANCEL, PING, PONG or GOAWAY frame: a header and nothing else. */
  control(
    kind:
      | typeof FrameKind.CANCEL
      | typeof FrameKind.PING
      | typeof FrameKind.PONG
      | typeof FrameKind.GOAWAY,
    requestId: number,
  ): void {
    const b = this.reserve(HEADER_BYTES);
    writeHeader(b, this.slabPos, HEADER_AFTER_LENGTH_BYTES, kind, requestId);
    this.slabPos += HEADER_BYTES;
    this.queued += HEADER_BYTES;
    this.onQueued();
  }

  /** Queues a HELLO or HELLO_ACK; `extensions`, when given, is the optional msgpack map body. */
  hello(
    kind: typeof FrameKind.HELLO | typeof FrameKind.HELLO_ACK,
    version: number,
    features: number,
    maxFrameBytes: number,
    extensions?: Readonly<Record<string, unknown>>,
  ): void {
    const body = extensions === undefined ? EMPTY : encodeValue(extensions);
    const total = HEADER_BYTES + HELLO_HEAD_BYTES + body.length;
    if (total > HELLO_FRAME_BYTES_MAX) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `${frameKindName(kind)} extensions make a ${total}-byte frame; the limit is ${HELLO_FRAME_BYTES_MAX}`,
      );
    }
    const b = this.reserve(total);
    const o = this.slabPos;
    writeHeader(b, o, total - 4, kind, 0);
    b.set(MAGIC, o + HEADER_BYTES);
    writeU16(b, o + HEADER_BYTES + 4, version);
    writeU16(b, o + HEADER_BYTES + 6, features);
    writeU32(b, o + HEADER_BYTES + 8, maxFrameBytes);
    b.set(body, o + HEADER_BYTES + HELLO_HEAD_BYTES);
    this.slabPos = o + total;
    this.queued += total;
    this.onQueued();
  }

  /** Hands out everything queued, in order, and starts afresh. The chunks are never rewritten. */
  take(): Uint8Array[] {
    this.cut();
    const out = this.chunks.splice(0, this.chunks.length);
    this.queued = 0;
    return out;
  }

  /** Called after each queued frame; the connection-bound subclass schedules a flush here. */
  protected onQueued(): void {}

  private bodyFrame(kind: FrameKind, requestId: number, body: Uint8Array): void {
    const total = HEADER_BYTES + body.length;
    this.checkSize(kind, total);
    const b = this.reserve(HEADER_BYTES + (body.length < COPY_BYTES_MAX ? body.length : 0));
    writeHeader(b, this.slabPos, total - 4, kind, requestId);
    this.slabPos += HEADER_BYTES;
    this.appendBody(body);
    this.queued += total;
    this.onQueued();
  }

  private checkSize(kind: FrameKind, total: number): void {
    if (total > this.peerMaxFrameBytes) {
      throw new TesseraError(
        'FRAME_TOO_LARGE',
        `${frameKindName(kind)} frame of ${total} bytes exceeds the peer's limit of ${this.peerMaxFrameBytes}`,
        { frameBytes: total, maxFrameBytes: this.peerMaxFrameBytes },
      );
    }
  }

  /** Copies a small body into the slab (space already reserved) or queues a large one as is. */
  private appendBody(body: Uint8Array): void {
    if (body.length < COPY_BYTES_MAX) {
      this.slab.set(body, this.slabPos);
      this.slabPos += body.length;
    } else {
      this.cut();
      this.chunks.push(body);
    }
  }

  /** Makes room for `n` contiguous bytes at slabPos and returns the slab. */
  private reserve(n: number): Uint8Array {
    if (this.slab.length - this.slabPos < n) {
      this.cut();
      this.slab = new Uint8Array(Math.max(SLAB_BYTES, n));
      this.slabView = new DataView(this.slab.buffer);
      this.slabStart = 0;
      this.slabPos = 0;
    }
    return this.slab;
  }

  /** Moves the written, not yet handed out part of the slab onto the chunk list. */
  private cut(): void {
    if (this.slabPos > this.slabStart) {
      this.chunks.push(this.slab.subarray(this.slabStart, this.slabPos));
      this.slabStart = this.slabPos;
    }
  }
}
