/**
 * zstd for request bodies (`Content-Encoding: zstd`), on @bokuweb/zstd-wasm.
 *
 * Decompression is capped: frame headers are walked first and their declared
 * content sizes summed, so a zip bomb is refused before any output buffer is
 * allocated. Frames without a declared size are decompressed into a buffer
 * that grows by doubling, never beyond the remaining budget.
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
const FIRST_GUESS_BYTES = 1 << 20;

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
  skippable: boolean;
}

function readLE(bytes: Uint8Array, pos: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + bytes[pos + i]!;
  return v;
}

/**
 * Split the input into frames by walking headers and block headers (no
 * decompression). Throws ProtocolError on anything that is not a zstd stream.
 */
export function zstdFrames(bytes: Uint8Array): FrameInfo[] {
  const frames: FrameInfo[] = [];
  let pos = 0;
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
      frames.push({ start, end: pos, contentSize: 0, skippable: true });
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
    }
    for (;;) {
      need(3, 'block header');
      const header = readLE(bytes, pos, 3);
      pos += 3;
      const last = header & 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) throw new ProtocolError(`zstd block at byte ${pos - 3} has the reserved type`);
      const stored = type === 1 ? 1 : size; // RLE blocks store one byte
      need(stored, 'block');
      pos += stored;
      if (last) break;
    }
    if (hasChecksum) {
      need(4, 'checksum');
      pos += 4;
    }
    frames.push({ start, end: pos, contentSize, skippable: false });
  }
  if (frames.length === 0) throw new ProtocolError('zstd input is empty');
  return frames;
}

function zstdErrorCode(err: unknown): number | undefined {
  const m = /code (-?\d+)/.exec(err instanceof Error ? err.message : String(err));
  return m ? Number(m[1]) : undefined;
}

/**
 * Decompress `bytes`, refusing (ProtocolError) corrupt input and output over
 * `maxBytes`. Declared sizes are checked before anything is allocated.
 */
export async function zstdDecompress(
  bytes: Uint8Array,
  maxBytes: number = DEFAULT_MAX_DECOMPRESSED_BYTES,
): Promise<Uint8Array<ArrayBuffer>> {
  const frames = zstdFrames(bytes);
  let declared = 0;
  for (const f of frames) declared += f.contentSize ?? 0;
  if (declared > maxBytes) {
    throw new ProtocolError(`zstd content of ${declared} bytes exceeds the ${maxBytes}-byte limit`);
  }
  await ensureInit();
  const parts: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  for (const frame of frames) {
    if (frame.skippable) continue;
    const input = bytes.subarray(frame.start, frame.end);
    const budget = maxBytes - total;
    let out: Uint8Array<ArrayBuffer>;
    if (frame.contentSize !== undefined) {
      out = decompressFrame(input, frame.contentSize);
    } else {
      out = decompressGrowing(input, budget, maxBytes);
    }
    total += out.length;
    if (total > maxBytes) throw new ProtocolError(`zstd content exceeds the ${maxBytes}-byte limit`);
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

function decompressFrame(frame: Uint8Array, heapSize: number): Uint8Array<ArrayBuffer> {
  try {
    return decompress(frame, { defaultHeapSize: heapSize }) as Uint8Array<ArrayBuffer>;
  } catch (err) {
    throw new ProtocolError(`zstd data is corrupt (zstd error ${zstdErrorCode(err) ?? '?'})`);
  }
}

/** A frame with no declared size: try buffers of doubling size up to the budget. */
function decompressGrowing(frame: Uint8Array, budget: number, maxBytes: number): Uint8Array<ArrayBuffer> {
  let size = Math.min(Math.max(FIRST_GUESS_BYTES, frame.length * 4), budget);
  for (;;) {
    try {
      return decompress(frame, { defaultHeapSize: Math.max(size, 1) }) as Uint8Array<ArrayBuffer>;
    } catch (err) {
      const code = zstdErrorCode(err);
      if (code !== DST_TOO_SMALL) throw new ProtocolError(`zstd data is corrupt (zstd error ${code ?? '?'})`);
      if (size >= budget) throw new ProtocolError(`zstd content exceeds the ${maxBytes}-byte limit`);
      size = Math.min(size * 2, budget);
    }
  }
}
