/**
 * Reading a request body with hard limits: the raw (possibly compressed) bytes are capped from
 * the declared Content-Length and again while they stream in, a `Content-Encoding: zstd` body is
 * capped again when inflated (refused from its frame headers when they already say too much),
 * and a JSON body's nesting is measured on the bytes, before anything parses it. Reading stops
 * at the first limit passed and the router answers at once (see discardRest for the rest).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { zstdDecompress } from '@tinker-ts/protocol/zstd';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.js';
import { JsonDepthScanner } from './json-depth.js';

export interface BodyLimit {
  /** Largest body accepted on the wire (after any compression). */
  maxBytes: number;
  /** Largest a zstd body may inflate to. */
  maxInflatedBytes: number;
  /** For a JSON body: the deepest nesting allowed. Null for other formats. */
  maxJsonDepth: number | null;
}

function tooDeep(max: number): BadRequestError {
  return new BadRequestError(`request body is not acceptable JSON: it nests objects and arrays deeper than ${max} levels`);
}

function readRaw(req: IncomingMessage, maxBytes: number, scanner: JsonDepthScanner | null): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(
      new PayloadTooLargeError(`request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes for this route`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      // Nothing more is kept: the answer goes out now (and discardRest deals with what follows).
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return stop(new PayloadTooLargeError(`request body exceeds the limit of ${maxBytes} bytes for this route`));
      if (scanner && !scanner.feed(chunk)) return stop(tooDeep(scanner.maxDepth));
      chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks, size));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', (err) => stop(new BadRequestError(`could not read the request body: ${err.message}`)));
  });
}

/** What is read and thrown away after a refusal before the connection is closed. */
const LINGER_BYTES = 8 * 1024 * 1024;
const LINGER_MS = 2000;

/**
 * After answering a request whose body was not read to its end: read a little more and throw it
 * away, then close the connection unless the body ended. Closing at once would reset a client
 * still sending, and a reset can destroy the answer it has not read yet; reading all of a huge
 * body would cost what the limit is there to prevent.
 */
export function discardRest(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  res.once('finish', () => {
    let left = LINGER_BYTES;
    const close = () => socket.destroy();
    const timer = setTimeout(close, LINGER_MS).unref();
    req.removeAllListeners('data');
    req.on('data', (chunk: Buffer) => {
      left -= chunk.length;
      if (left < 0) {
        clearTimeout(timer);
        close();
      }
    });
    req.once('end', () => clearTimeout(timer));
    req.resume();
  });
}

/**
 * A plain Uint8Array view of the same memory. Node Buffers differ from Uint8Array in `slice`
 * (a view, not a copy), which breaks decoders written for Uint8Array; never hand them one.
 */
function plainView(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function encodingOf(req: IncomingMessage): string {
  return (req.headers['content-encoding'] ?? 'identity').toString().trim().toLowerCase();
}

/** Reads the body and undoes its Content-Encoding (identity or zstd). */
export async function readBody(req: IncomingMessage, limit: BodyLimit): Promise<Uint8Array> {
  const encoding = encodingOf(req);
  if (encoding !== 'identity' && encoding !== '' && encoding !== 'zstd') {
    throw new UnsupportedMediaTypeError(`Content-Encoding "${encoding}" is not supported (use identity or zstd)`);
  }
  const identity = encoding !== 'zstd';
  const scanner = limit.maxJsonDepth === null ? null : new JsonDepthScanner(limit.maxJsonDepth);
  // An identity body is scanned as it streams in; a zstd one once inflated.
  const raw = await readRaw(req, limit.maxBytes, identity ? scanner : null);
  if (identity || raw.length === 0) return plainView(raw);
  let inflated: Uint8Array;
  try {
    inflated = await zstdDecompress(raw, limit.maxInflatedBytes);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/exceed|too large|limit/i.test(message)) {
      throw new PayloadTooLargeError(`zstd body inflates beyond the limit of ${limit.maxInflatedBytes} bytes for this route: ${message}`);
    }
    throw new BadRequestError(`zstd body could not be decompressed: ${message}`);
  }
  if (scanner && !scanner.feed(inflated)) throw tooDeep(scanner.maxDepth);
  return inflated;
}
