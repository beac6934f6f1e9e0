/**
 * zstd for request bodies (`Content-Encoding: zstd`), on @bokuweb/zstd-wasm.
 *
 * Decompression is capped before it starts: frame and block headers are walked first (no
 * decompression), which gives each frame's declared size, or else its exact size from raw and
 * RLE blocks plus at most 128 KiB per compressed block. A bomb (RLE blocks, no declared size)
 * is refused from its headers in microseconds; anything else is decompressed once, into a
 * buffer no larger than that bound and the remaining budget, so the work and the memory are
 * both bounded by the cap whatever the input claims.
 */

import { compress, decompress, init } from '@bokuweb/zstd-wasm';
import { ProtocolError } from './errors.js';

/** Decompressed size cap used by servers when none is given (SkyRL uses 1 GiB). */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 1 << 30;

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** ZSTD_error_dstSize_tooSmall, as the wasm build reports it. */
const DST_TOO_SMALL = -70;
/** Block_Maximum_Size: no block regenerates more than this (format spec, 3.1.1.2.3). */
const MAX_BLOCK_BYTES = 128 * 1024;

let ready: Promise<void> | undefined;

/** Load the wasm module once, on first use. */
function ensureInit(): Promise<void> {
  ready ??= init();
  return ready;
}

export async function zstdCompress(bytes: Uint8Array, level = 3): Promise<Uint8Array<ArrayBuffer>> {
  await ensureInit();
  // The library returns a fresh copy (slice), so its buffer is a plain ArrayBuffer.
  return compress(bytes, level) as Uint8Array<ArrayBuffer>;
}

interface FrameInfo {
  /** Byte range of the frame within the input. */
  start: number;
  end: number;
  /** Declared decompressed size, or undefined when the header omits it. */
  contentSize: number | undefined;
  /** Most bytes the blocks can regenerate: raw and RLE sizes exactly, compressed ones at most 128 KiB. */
  maxContentSize: number;
  skippable: boolean;
}

function tooLarge(size: number, maxBytes: number, exact: boolean): ProtocolError {
  return new ProtocolError(`zstd content of ${exact ? '' : 'at least '}${size} bytes exceeds the ${maxBytes}-byte limit`);
}

function readLE(bytes: Uint8Array, pos: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + bytes[pos + i]!;
  return v;
}

/**
 * Split the input into frames by walking headers and block headers (no decompression). Throws
 * ProtocolError on anything that is not a zstd stream, and as soon as the declared or certain
 * content passes `maxBytes`, so a stream of a million RLE blocks is not walked to its end.
 */
export function zstdFrames(bytes: Uint8Array, maxBytes = Infinity): FrameInfo[] {
  const frames: FrameInfo[] = [];
  let pos = 0;
  /** Content the frames so far declare or certainly regenerate. */
  let certain = 0;
  const need = (n: number, what: string) => {
    if (pos + n > bytes.length) throw new ProtocolError(`zstd input is truncated (in ${what} at byte ${pos})`);
  };
  while (pos < bytes.length) {
    const start = pos;
    need(4, 'magic number');
    const magic = readLE(bytes, pos, 4);
    pos += 4;
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      need(4, 'skippable frame size');
      const size = readLE(bytes, pos, 4);
      pos += 4;
      need(size, 'skippable frame');
      pos += size;
      frames.push({ start, end: pos, contentSize: 0, maxContentSize: 0, skippable: true });
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw new ProtocolError(`not zstd data (magic 0x${magic.toString(16)} at byte ${start})`);
    need(1, 'frame header');
    const fhd = bytes[pos++]!;
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd >> 5) & 1;
    const hasChecksum = (fhd >> 2) & 1;
    const dictFlag = fhd & 3;
    if ((fhd >> 3) & 1) throw new ProtocolError('zstd frame header has its reserved bit set');
    if (!singleSegment) {
      need(1, 'window descriptor');
      pos++;
    }
    const dictBytes = [0, 1, 2, 4][dictFlag]!;
    need(dictBytes, 'dictionary id');
    pos += dictBytes;
    const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
    need(fcsBytes, 'frame content size');
    let contentSize: number | undefined;
    if (fcsBytes > 0) {
      contentSize = readLE(bytes, pos, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
      pos += fcsBytes;
      certain += contentSize;
      if (certain > maxBytes) throw tooLarge(certain, maxBytes, true);
    }
    let maxContentSize = 0;
    for (;;) {
      need(3, 'block header');
      const header = readLE(bytes, pos, 3);
      pos += 3;
      const last = header & 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) throw new ProtocolError(`zstd block at byte ${pos - 3} has the reserved type`);
      if (size > MAX_BLOCK_BYTES) throw new ProtocolError(`zstd block at byte ${pos - 3} is larger than 128 KiB`);
      const stored = type === 1 ? 1 : size; // RLE blocks store one byte
      need(stored, 'block');
      pos += stored;
      // Raw and RLE blocks regenerate exactly `size` bytes; a compressed one at most a full block.
      maxContentSize += type === 2 ? MAX_BLOCK_BYTES : size;
      if (contentSize === undefined && type !== 2) {
        certain += size;
        if (certain > maxBytes) throw tooLarge(certain, maxBytes, false);
      }
      if (last) break;
    }
    if (hasChecksum) {
      need(4, 'checksum');
      pos += 4;
    }
    frames.push({ start, end: pos, contentSize, maxContentSize, skippable: false });
  }
  if (frames.length === 0) throw new ProtocolError('zstd input is empty');
  return frames;
}

function zstdErrorCode(err: unknown): number | undefined {
  const m = /code (-?\d+)/.exec(err instanceof Error ? err.message : String(err));
  return m ? Number(m[1]) : undefined;
}

/**
 * Decompress `bytes`, refusing (ProtocolError) corrupt input and output over `maxBytes`. What the
 * headers declare or certainly hold is checked before anything is allocated; each frame is then
 * decompressed once into at most what is left of the budget.
 */
export async function zstdDecompress(
  bytes: Uint8Array,
  maxBytes: number = DEFAULT_MAX_DECOMPRESSED_BYTES,
): Promise<Uint8Array<ArrayBuffer>> {
  const frames = zstdFrames(bytes, maxBytes);
  await ensureInit();
  const parts: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  for (const frame of frames) {
    if (frame.skippable) continue;
    const input = bytes.subarray(frame.start, frame.end);
    const budget = maxBytes - total;
    const bound = frame.contentSize ?? frame.maxContentSize;
    const out = decompressInto(input, Math.min(bound, budget), bound > budget, maxBytes);
    total += out.length;
    if (total > maxBytes) throw tooLarge(total, maxBytes, true);
    parts.push(out);
  }
  if (parts.length === 1) return parts[0]!;
  const joined = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    joined.set(p, off);
    off += p.length;
  }
  return joined;
}

/**
 * One frame into a buffer of `capacity` bytes. Output that does not fit is over the limit when
 * the budget cut the capacity short; otherwise the frame regenerates more than its headers allow.
 */
function decompressInto(frame: Uint8Array, capacity: number, cutShort: boolean, maxBytes: number): Uint8Array<ArrayBuffer> {
  try {
    return decompress(frame, { defaultHeapSize: Math.max(capacity, 1) }) as Uint8Array<ArrayBuffer>;
  } catch (err) {
    const code = zstdErrorCode(err);
    if (code === DST_TOO_SMALL && cutShort) throw new ProtocolError(`zstd content exceeds the ${maxBytes}-byte limit`);
    throw new ProtocolError(`zstd data is corrupt (zstd error ${code ?? '?'})`);
  }
}
