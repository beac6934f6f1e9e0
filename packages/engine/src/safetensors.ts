/**
 * The safetensors file format: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`, then the
 * raw little-endian tensor bytes. Reading widens F32/BF16/F16 to Float32Array; writing
 * always stores F32 with keys in sorted order so equal tensors give byte-identical files.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export type SafetensorsDtype = 'F32' | 'BF16' | 'F16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F32: 4, BF16: 2, F16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface TensorEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
  /** The data section (a view of the file bytes). */
  data: Uint8Array;
  source: string;
}

/** A float tensor to write. */
export interface NamedTensor {
  data: Float32Array;
  shape: number[];
}

/** Header JSON must stay well under this (the reference implementation caps it at 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/** Parses a safetensors buffer, validating the header and every tensor's byte range. */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  if (bytes.byteLength < 8) throw new SafetensorsError(`${source}: file too short for a safetensors header (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > bytes.byteLength) {
    throw new SafetensorsError(`${source}: header length ${headerLen} exceeds the file size ${bytes.byteLength}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new SafetensorsError(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsError(`${source}: header must be a JSON object`);
  }
  const data = bytes.subarray(8 + headerLen);
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object') throw new SafetensorsError(`${source}: __metadata__ must be an object`);
      metadata = Object.fromEntries(Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
      continue;
    }
    tensors.set(name, validateEntry(raw, name, data.byteLength, source));
  }
  return { tensors, metadata, data, source };
}

function validateEntry(raw: unknown, name: string, dataBytes: number, source: string): TensorEntry {
  const where = `${source}: tensor "${name}"`;
  if (raw === null || typeof raw !== 'object') throw new SafetensorsError(`${where} has no header entry object`);
  const { dtype, shape, data_offsets: offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw new SafetensorsError(`${where} has unsupported dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new SafetensorsError(`${where} has an invalid shape ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
    throw new SafetensorsError(`${where} has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataBytes) {
    throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] fall outside the ${dataBytes}-byte data section (truncated file?)`);
  }
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = numel * DTYPE_BYTES[dtype as SafetensorsDtype];
  if (end - begin !== expected) {
    throw new SafetensorsError(`${where}: ${end - begin} bytes stored but shape [${shape}] of ${dtype} needs ${expected}`);
  }
  return { dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end };
}

export function readSafetensorsFile(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/** Reads one tensor as float32 (F32, BF16, F16 and F64 are accepted). */
export function tensorAsFloat32(file: SafetensorsFile, name: string): Float32Array {
  const e = file.tensors.get(name);
  if (!e) throw new SafetensorsError(`${file.source}: tensor "${name}" is missing`);
  const bytes = file.data.subarray(e.begin, e.end);
  const n = e.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (e.dtype) {
    case 'F32':
      // Copy through bytes: the source offset need not be 4-byte aligned.
      new Uint8Array(out.buffer).set(bytes);
      break;
    case 'BF16': {
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u32[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    default:
      throw new SafetensorsError(`${file.source}: tensor "${name}" has dtype ${e.dtype}, expected a float type`);
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export interface SerializeOptions {
  metadata?: Record<string, string>;
  /** Storage type; BF16 rounds to nearest even (as torch does). Default F32. */
  dtype?: 'F32' | 'BF16';
}

/** Serializes float tensors; keys are written in sorted order and data is laid out in that order. */
export function serializeSafetensors(tensors: Map<string, NamedTensor> | Record<string, NamedTensor>, opts: SerializeOptions = {}): Uint8Array {
  const metadata = opts.metadata ?? {};
  const dtype = opts.dtype ?? 'F32';
  const width = DTYPE_BYTES[dtype];
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new SafetensorsError(`tensor "${name}": shape [${t.shape}] does not match ${t.data.length} values`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + width * numel] };
    offset += width * numel;
  }
  let headerText = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned (as the reference writer does).
  headerText += ' '.repeat((8 - ((8 + Buffer.byteLength(headerText)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const [, t] of entries) {
    if (dtype === 'F32') {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    } else {
      const view = new DataView(out.buffer);
      const bits = new Uint32Array(Float32Array.from(t.data).buffer);
      for (let i = 0; i < bits.length; i++) view.setUint16(pos + 2 * i, floatBitsToBf16(bits[i]), true);
    }
    pos += width * t.data.length;
  }
  return out;
}

function floatBitsToBf16(u: number): number {
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return 0x7fc0; // NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function writeSafetensorsFile(path: string, tensors: Map<string, NamedTensor> | Record<string, NamedTensor>, opts: SerializeOptions = {}): void {
  writeFileSync(path, serializeSafetensors(tensors, opts));
}

/**
 * Reads one float tensor as bf16 bit patterns without an f32 copy of it: BF16 bytes are copied
 * as they are; F32, F16 and F64 values are rounded to the nearest bf16 one by one.
 */
export function tensorAsBf16(file: SafetensorsFile, name: string): Uint16Array {
  const e = file.tensors.get(name);
  if (!e) throw new SafetensorsError(`${file.source}: tensor "${name}" is missing`);
  const bytes = file.data.subarray(e.begin, e.end);
  const n = e.shape.reduce((a, b) => a * b, 1);
  const out = new Uint16Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const one = new Float32Array(1);
  const oneBits = new Uint32Array(one.buffer);
  const round = (x: number): number => {
    one[0] = x;
    return floatBitsToBf16(oneBits[0]);
  };
  switch (e.dtype) {
    case 'BF16':
      // Copy through bytes: the source offset need not be 2-byte aligned.
      new Uint8Array(out.buffer).set(bytes);
      break;
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = floatBitsToBf16(view.getUint32(4 * i, true));
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = round(halfToFloat(view.getUint16(2 * i, true)));
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = round(view.getFloat64(8 * i, true));
      break;
    default:
      throw new SafetensorsError(`${file.source}: tensor "${name}" has dtype ${e.dtype}, expected a float type`);
  }
  return out;
}
