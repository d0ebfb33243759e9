/**
 * Frames as values: a readonly discriminated union on `kind`, with whole-frame encode and
 * parse. The RPC server and client use the same parse helpers (readRequestHead, parseHello,
 * parseError) on their hot paths; `encodeFrames` and `decodeFrames` serve tests, tools and the
 * worked examples in docs/formats/rpc.md.
 */
import { concatBytes } from '../util/bytes.js';
import { TesseraError } from '../util/errors.js';
import { unreachable } from '../util/assert.js';
import { decodeErrorBody, decodeMethod, decodeValue } from './codec.js';
import { FrameDecoder } from './decoder.js';
import { FrameEncoder } from './encoder.js';
import {
  FRAME_BYTES_DEFAULT,
  FRAME_KIND_END,
  FrameKind,
  HELLO_HEAD_BYTES,
  MAGIC,
  REQUEST_HEAD_BYTES,
  readU16,
  readU32,
} from './format.js';

export interface HelloFrame {
  readonly kind: typeof FrameKind.HELLO | typeof FrameKind.HELLO_ACK;
  readonly requestId: 0;
  /** HELLO: the newest version the client speaks. HELLO_ACK: the version chosen. */
  readonly version: number;
  readonly features: number;
  /** The largest frame the sender accepts. */
  readonly maxFrameBytes: number;
  /** The optional msgpack map after the fixed part (reserved for credentials and the like). */
  readonly extensions?: Readonly<Record<string, unknown>>;
}

export interface RequestFrame {
  readonly kind: typeof FrameKind.REQUEST;
  readonly requestId: number;
  /** Relative timeout in milliseconds; 0 = none. */
  readonly timeoutMs: number;
  readonly method: string;
  readonly args: unknown;
}

export interface ResponseFrame {
  readonly kind: typeof FrameKind.RESPONSE;
  readonly requestId: number;
  readonly result: unknown;
}

export interface ErrorFrame {
  readonly kind: typeof FrameKind.ERROR;
  /** 0 = the whole connection (the sender closes it next). */
  readonly requestId: number;
  readonly error: TesseraError;
}

export interface ControlFrame {
  readonly kind:
    | typeof FrameKind.CANCEL
    | typeof FrameKind.PING
    | typeof FrameKind.PONG
    | typeof FrameKind.GOAWAY;
  readonly requestId: number;
}

export type Frame = HelloFrame | RequestFrame | ResponseFrame | ErrorFrame | ControlFrame;

/** Every kind accepted: for tools that read either direction of a conversation. */
export const ALL_KINDS = ((1 << FRAME_KIND_END) - 1) & ~1;

// ---------------------------------------------------------------------------------------------
// Parse helpers: `buf[start, end)` is what follows the 10-byte header.

export interface RequestHead {
  readonly timeoutMs: number;
  readonly method: string;
  /** Where the msgpack args begin. */
  readonly argsStart: number;
}

/** Reads a REQUEST's timeout and method; throws PROTOCOL_ERROR when malformed. */
export function readRequestHead(buf: Uint8Array, start: number, end: number): RequestHead {
  const timeoutMs = readU32(buf, start);
  const methodLength = buf[start + 4]!;
  const argsStart = start + REQUEST_HEAD_BYTES + methodLength;
  if (methodLength === 0 || argsStart >= end) {
    throw new TesseraError(
      'PROTOCOL_ERROR',
      `REQUEST method length ${methodLength} leaves no args`,
    );
  }
  const method = decodeMethod(buf, start + REQUEST_HEAD_BYTES, methodLength);
  if (method === undefined) {
    throw new TesseraError('PROTOCOL_ERROR', 'REQUEST method name is not printable ASCII');
  }
  return { timeoutMs, method, argsStart };
}

/** Parses the body of a HELLO or HELLO_ACK; throws PROTOCOL_ERROR on a bad magic or extension. */
export function parseHello(
  kind: HelloFrame['kind'],
  buf: Uint8Array,
  start: number,
  end: number,
): HelloFrame {
  for (let i = 0; i < MAGIC.length; i++) {
    if (buf[start + i] !== MAGIC[i]) {
      throw new TesseraError('PROTOCOL_ERROR', 'bad magic: the peer does not speak Tessera RPC');
    }
  }
  const version = readU16(buf, start + 4);
  const features = readU16(buf, start + 6);
  const maxFrameBytes = readU32(buf, start + 8);
  const extStart = start + HELLO_HEAD_BYTES;
  if (extStart === end) return { kind, requestId: 0, version, features, maxFrameBytes };
  const extensions = decodeValue(buf, extStart, end);
  if (typeof extensions !== 'object' || extensions === null || Array.isArray(extensions)) {
    throw new TesseraError('PROTOCOL_ERROR', 'HELLO extensions are not a msgpack map');
  }
  return {
    kind,
    requestId: 0,
    version,
    features,
    maxFrameBytes,
    extensions: extensions as Record<string, unknown>,
  };
}

/** Parses an ERROR body into the error it carries; throws PROTOCOL_ERROR when malformed. */
export function parseError(buf: Uint8Array, start: number, end: number): TesseraError {
  return decodeErrorBody(decodeValue(buf, start, end));
}

/** Parses one whole frame delivered by a FrameDecoder. */
export function parseFrame(
  kind: FrameKind,
  requestId: number,
  buf: Uint8Array,
  start: number,
  end: number,
): Frame {
  switch (kind) {
    case FrameKind.HELLO:
    case FrameKind.HELLO_ACK:
      return parseHello(kind, buf, start, end);
    case FrameKind.REQUEST: {
      const head = readRequestHead(buf, start, end);
      return {
        kind,
        requestId,
        timeoutMs: head.timeoutMs,
        method: head.method,
        args: decodeValue(buf, head.argsStart, end),
      };
    }
    case FrameKind.RESPONSE:
      return { kind, requestId, result: decodeValue(buf, start, end) };
    case FrameKind.ERROR:
      return { kind, requestId, error: parseError(buf, start, end) };
    case FrameKind.CANCEL:
    case FrameKind.PING:
    case FrameKind.PONG:
    case FrameKind.GOAWAY:
      return { kind, requestId };
    default:
      return unreachable(kind, 'frame kind');
  }
}

// ---------------------------------------------------------------------------------------------
// Whole-stream helpers

/** Queues any frame on an encoder (the one switch over kinds on the encode side). */
export function writeFrame(encoder: FrameEncoder, frame: Frame): void {
  switch (frame.kind) {
    case FrameKind.HELLO:
    case FrameKind.HELLO_ACK:
      encoder.hello(
        frame.kind,
        frame.version,
        frame.features,
        frame.maxFrameBytes,
        frame.extensions,
      );
      return;
    case FrameKind.REQUEST:
      encoder.request(frame.requestId, frame.timeoutMs, frame.method, frame.args);
      return;
    case FrameKind.RESPONSE:
      encoder.response(frame.requestId, frame.result);
      return;
    case FrameKind.ERROR:
      encoder.error(frame.requestId, frame.error);
      return;
    case FrameKind.CANCEL:
    case FrameKind.PING:
    case FrameKind.PONG:
    case FrameKind.GOAWAY:
      encoder.control(frame.kind, frame.requestId);
      return;
    default:
      unreachable(frame, 'frame kind');
  }
}

/** Encodes frames into one byte string, as they would appear on the wire. */
export function encodeFrames(
  frames: readonly Frame[],
  peerMaxFrameBytes = FRAME_BYTES_DEFAULT,
): Uint8Array {
  const encoder = new FrameEncoder();
  encoder.peerMaxFrameBytes = peerMaxFrameBytes;
  for (const f of frames) writeFrame(encoder, f);
  return concatBytes(encoder.take());
}

export interface DecodedStream {
  readonly frames: Frame[];
  /** The error that stopped decoding, if any, and the request id it names. */
  readonly error?: { readonly error: TesseraError; readonly requestId: number };
  /** True when the input ended inside a frame. */
  readonly truncated: boolean;
}

/**
 * Decodes a byte stream given as chunks (cut anywhere), accepting every kind. Stops at the first
 * error, as a peer would.
 */
export function decodeFrames(
  chunks: readonly Uint8Array[],
  maxFrameBytes = FRAME_BYTES_DEFAULT,
  allowedKinds = ALL_KINDS,
): DecodedStream {
  const frames: Frame[] = [];
  let error: DecodedStream['error'];
  const decoder: FrameDecoder = new FrameDecoder(
    {
      onFrame(kind, requestId, buf, start, end) {
        try {
          frames.push(parseFrame(kind, requestId, buf, start, end));
        } catch (err) {
          decoder.stop();
          error = { error: toProtocolError(err), requestId };
        }
      },
      onFrameError(e, requestId) {
        error = { error: e, requestId };
      },
    },
    maxFrameBytes,
    allowedKinds,
  );
  for (const c of chunks) decoder.push(c);
  return error
    ? { frames, error, truncated: decoder.midFrame }
    : { frames, truncated: decoder.midFrame };
}

function toProtocolError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  return new TesseraError('PROTOCOL_ERROR', err instanceof Error ? err.message : String(err));
}
