/**
 * Streaming frame decoder: bytes in, whole frames out, however the stream was cut into chunks.
 *
 * Frames that lie inside one chunk are handed to the sink as a view of that chunk: no copy.
 * Only a frame that spans chunks is copied, into a buffer of its own that grows with the bytes
 * actually received (so a header that merely *claims* a large frame costs no memory). Each header
 * is checked as soon as its 10 bytes are in — kind, flags, request id, length against the kind
 * and against `maxFrameBytes` — so an oversized or malformed frame is refused before any of its
 * body is buffered. After the first error the decoder ignores all further input.
 */
import { TesseraError } from '../util/errors.js';
import {
  HEADER_AFTER_LENGTH_BYTES,
  HEADER_BYTES,
  LENGTH_BYTES,
  LENGTH_MAX,
  LENGTH_MIN,
  REQUEST_ID_RULE,
  frameKindName,
  isFrameKind,
  readU32,
  type FrameKind,
} from './format.js';

export interface FrameSink {
  /**
   * One whole frame whose header passed every check. `buf[start, end)` is what follows the
   * 10-byte header (empty for CANCEL, PING, PONG, GOAWAY). The view is valid only during the
   * call; the sink may change the decoder's `allowedKinds` and `maxFrameBytes` or `stop()` it.
   */
  onFrame(kind: FrameKind, requestId: number, buf: Uint8Array, start: number, end: number): void;
  /**
   * The stream broke the protocol (PROTOCOL_ERROR or FRAME_TOO_LARGE). `requestId` is the
   * offending frame's id when its header was otherwise sound, else 0. No more frames follow.
   */
  onFrameError(error: TesseraError, requestId: number): void;
}

/** First buffer for a frame that spans chunks; it doubles as bytes arrive. */
const SPAN_INITIAL_BYTES = 64 * 1024;

export class FrameDecoder {
  /** Largest whole frame accepted (length field included). */
  maxFrameBytes: number;
  /** Bit mask of the kinds accepted now (bit k = kind k); others are a PROTOCOL_ERROR. */
  allowedKinds: number;

  private readonly sink: FrameSink;
  private readonly head = new Uint8Array(HEADER_BYTES);
  private headLen = 0;
  /** The frame being assembled across chunks (bytes after its header), or null. */
  private span: Uint8Array | null = null;
  private spanLen = 0;
  private spanNeed = 0;
  private spanKind = 0 as FrameKind;
  private spanId = 0;
  private stopped = false;

  constructor(sink: FrameSink, maxFrameBytes: number, allowedKinds: number) {
    this.sink = sink;
    this.maxFrameBytes = maxFrameBytes;
    this.allowedKinds = allowedKinds;
  }

  /** True when part of a frame has arrived and the rest has not (a close now truncates it). */
  get midFrame(): boolean {
    return this.headLen > 0 || this.span !== null;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Ignores all further input. */
  stop(): void {
    this.stopped = true;
    this.span = null;
    this.headLen = 0;
  }

  push(data: Uint8Array): void {
    if (this.stopped) return;
    // A Node Buffer chunk is seen through a plain Uint8Array: msgpackr copies each `bin` out
    // with the source's own constructor, and a Buffer's (FastBuffer) costs far more per value
    // than a Uint8Array's; one wrapper per chunk buys plain Uint8Arrays for every value in it.
    const chunk =
      Object.getPrototypeOf(data) === Uint8Array.prototype
        ? data
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const n = chunk.length;
    let off = 0;
    if (this.headLen > 0 || this.span !== null) {
      off = this.resume(chunk);
      if (off < 0) return;
    }
    while (off < n) {
      if (n - off < HEADER_BYTES) {
        this.head.set(chunk.subarray(off), 0);
        this.headLen = n - off;
        return;
      }
      const length = readU32(chunk, off);
      const kind = chunk[off + 4]!;
      const requestId = readU32(chunk, off + 6);
      if (!this.check(length, kind, chunk[off + 5]!, requestId)) return;
      const end = off + LENGTH_BYTES + length;
      if (end <= n) {
        this.sink.onFrame(kind as FrameKind, requestId, chunk, off + HEADER_BYTES, end);
        if (this.stopped) return;
        off = end;
      } else {
        this.beginSpan(kind as FrameKind, requestId, length - HEADER_AFTER_LENGTH_BYTES);
        this.fillSpan(chunk, off + HEADER_BYTES);
        return;
      }
    }
  }

  /** Continues a header or frame left incomplete by the previous chunk; returns the next offset or -1. */
  private resume(chunk: Uint8Array): number {
    let off = 0;
    if (this.headLen > 0) {
      const take = Math.min(HEADER_BYTES - this.headLen, chunk.length);
      this.head.set(chunk.subarray(0, take), this.headLen);
      this.headLen += take;
      off = take;
      if (this.headLen < HEADER_BYTES) return -1;
      this.headLen = 0;
      const h = this.head;
      const length = readU32(h, 0);
      const kind = h[4]!;
      const requestId = readU32(h, 6);
      if (!this.check(length, kind, h[5]!, requestId)) return -1;
      const bodyBytes = length - HEADER_AFTER_LENGTH_BYTES;
      if (bodyBytes === 0) {
        this.sink.onFrame(kind as FrameKind, requestId, h, HEADER_BYTES, HEADER_BYTES);
        return this.stopped ? -1 : off;
      }
      this.beginSpan(kind as FrameKind, requestId, bodyBytes);
    }
    const used = this.fillSpan(chunk, off);
    return used < 0 ? -1 : used;
  }

  private beginSpan(kind: FrameKind, requestId: number, bodyBytes: number): void {
    this.span = new Uint8Array(Math.min(bodyBytes, SPAN_INITIAL_BYTES));
    this.spanLen = 0;
    this.spanNeed = bodyBytes;
    this.spanKind = kind;
    this.spanId = requestId;
  }

  /**
   * Copies what `chunk[off..]` holds of the spanning frame; delivers it when complete. Returns
   * the offset after the frame, or -1 when the chunk is used up (or the decoder stopped).
   */
  private fillSpan(chunk: Uint8Array, off: number): number {
    const take = Math.min(this.spanNeed - this.spanLen, chunk.length - off);
    let span = this.span!;
    if (this.spanLen + take > span.length) {
      const grown = new Uint8Array(
        Math.min(this.spanNeed, Math.max(span.length * 2, this.spanLen + take)),
      );
      grown.set(span.subarray(0, this.spanLen), 0);
      span = grown;
      this.span = grown;
    }
    span.set(chunk.subarray(off, off + take), this.spanLen);
    this.spanLen += take;
    if (this.spanLen < this.spanNeed) return -1;
    this.span = null;
    this.sink.onFrame(this.spanKind, this.spanId, span, 0, this.spanNeed);
    return this.stopped ? -1 : off + take;
  }

  /** Checks a header; on failure reports the error, stops, and returns false. */
  private check(length: number, kind: number, flags: number, requestId: number): boolean {
    if (!isFrameKind(kind)) {
      return this.fail(`unknown frame kind ${frameKindName(kind)}`, 0);
    }
    const name = frameKindName(kind);
    if (((this.allowedKinds >>> kind) & 1) === 0) {
      return this.fail(`unexpected ${name} frame here`, 0);
    }
    if (flags !== 0) {
      return this.fail(
        `${name} frame has flags 0x${flags.toString(16)}; version 1 defines none`,
        0,
      );
    }
    const rule = REQUEST_ID_RULE[kind];
    if (rule === 'zero' && requestId !== 0) {
      return this.fail(`${name} frame must carry request id 0, got ${requestId}`, 0);
    }
    if (rule === 'nonzero' && requestId === 0) {
      return this.fail(`${name} frame must carry a non-zero request id`, 0);
    }
    if (length < LENGTH_MIN[kind]!) {
      return this.fail(
        `${name} frame length ${length} is below its minimum ${LENGTH_MIN[kind]}`,
        0,
      );
    }
    if (length > LENGTH_MAX[kind]!) {
      return this.fail(
        `${name} frame length ${length} is above its maximum ${LENGTH_MAX[kind]}`,
        0,
      );
    }
    if (length + LENGTH_BYTES > this.maxFrameBytes) {
      this.stop();
      this.sink.onFrameError(
        new TesseraError(
          'FRAME_TOO_LARGE',
          `${name} frame of ${length + LENGTH_BYTES} bytes exceeds the limit of ${this.maxFrameBytes}`,
          { frameBytes: length + LENGTH_BYTES, maxFrameBytes: this.maxFrameBytes },
        ),
        requestId,
      );
      return false;
    }
    return true;
  }

  private fail(message: string, requestId: number): false {
    this.stop();
    this.sink.onFrameError(new TesseraError('PROTOCOL_ERROR', message), requestId);
    return false;
  }
}
