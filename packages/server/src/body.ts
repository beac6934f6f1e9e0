/**
 * Reading a request body with hard limits: the raw (possibly compressed) bytes are capped while
 * they stream in, and a `Content-Encoding: zstd` body is capped again when inflated, so neither a
 * huge upload nor a zip bomb can exhaust memory.
 */
import type { IncomingMessage } from 'node:http';
import { zstdDecompress } from '@tinker-ts/protocol/zstd';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.js';

export interface BodyLimits {
  /** Largest body accepted on the wire (after any compression). */
  maxBodyBytes: number;
  /** Largest body a zstd body may inflate to. */
  maxDecompressedBytes: number;
}

export const DEFAULT_BODY_LIMITS: Readonly<BodyLimits> = Object.freeze({
  maxBodyBytes: 256 * 1024 * 1024,
  maxDecompressedBytes: 1024 * 1024 * 1024,
});

function readRaw(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(
      new PayloadTooLargeError(`request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > maxBytes) {
        failed = true;
        reject(new PayloadTooLargeError(`request body exceeds the limit of ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        reject(new BadRequestError(`could not read the request body: ${err.message}`));
      }
    });
  });
}

/**
 * A plain Uint8Array view of the same memory. Node Buffers differ from Uint8Array in `slice`
 * (a view, not a copy), which breaks decoders written for Uint8Array; never hand them one.
 */
function plainView(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Reads the body and undoes its Content-Encoding (identity or zstd). */
export async function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Uint8Array> {
  return plainView(await readEncodedBody(req, limits));
}

async function readEncodedBody(req: IncomingMessage, limits: BodyLimits): Promise<Uint8Array> {
  const raw = await readRaw(req, limits.maxBodyBytes);
  const encoding = (req.headers['content-encoding'] ?? 'identity').toString().trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return raw;
  if (encoding === 'zstd') {
    if (raw.length === 0) return raw;
    try {
      return await zstdDecompress(raw, limits.maxDecompressedBytes);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/exceed|too large|limit/i.test(message)) {
        throw new PayloadTooLargeError(`zstd body inflates beyond ${limits.maxDecompressedBytes} bytes: ${message}`);
      }
      throw new BadRequestError(`zstd body could not be decompressed: ${message}`);
    }
  }
  throw new UnsupportedMediaTypeError(`Content-Encoding "${encoding}" is not supported (use identity or zstd)`);
}
