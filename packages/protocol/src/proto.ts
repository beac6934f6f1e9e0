/**
 * Protobuf codec for the `tinker_public` messages, written by hand on
 * @bufbuild/protobuf's BinaryWriter/BinaryReader (the .proto is not
 * published; field numbers come from the descriptor the SDK ships, plus the
 * fields newer SDKs added).
 *
 * Each message is converted to and from the same JSON-shaped types the rest
 * of the package uses, applying the SDK's own conversions (int32 → int64 and
 * bfloat16 → float32 widening, NaN ↔ null prompt logprobs, top-k sentinel
 * padding). Decoding checks every length against the bytes that remain, so
 * corrupt or truncated input fails with a ProtocolError naming the field
 * rather than hanging or allocating without bound.
 *
 * Decoding checks the wire, not the meaning: a server should still run the
 * decoded request through `forwardBackwardRequestSchema` and `checkData`,
 * exactly as it does for a JSON body.
 */

import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { base64ToBytes, bytesToBase64 } from './base64.js';
import { ProtocolError, TinkerProtocolError, ValidationError } from './errors.js';
import type {
  Datum,
  ForwardBackwardOutput,
  ForwardBackwardRequest,
  LossFnOutput,
  LossFnType,
  ModelInputChunk,
  ProvenanceSpan,
  SampledSequence,
  SampleResponse,
  SamplingParams,
  TensorData,
  TensorDtype,
} from './types.js';
import { MASK_LOGPROB } from './types.js';

// ---------------------------------------------------------------- schema facts

/** Proto `DType`. */
export const DType = Object.freeze({ UNSPECIFIED: 0, FLOAT32: 1, INT64: 2, INT32: 3, BFLOAT16: 4 });
export type DTypeValue = (typeof DType)[keyof typeof DType];

/** Proto `StopReason`. */
export const ProtoStopReason = Object.freeze({ STOP: 0, LENGTH: 1 });

/** Field numbers of every message, as in the published descriptor and newer SDKs. */
export const FIELDS = Object.freeze({
  ForwardBackwardRequest: {
    model_id: 1,
    seq_id: 2,
    data: 3,
    loss_fn: 4,
    loss_fn_config: 5,
    forward_only: 6,
    loss_fn_config_v2: 7,
  },
  LossConfigValue: { number: 1, text: 2 },
  Datum: { model_input: 1, loss_fn_inputs: 2, model_input_spans: 3, loss_fn_input_spans: 4 },
  ProvenanceSpan: { prompt_tokens: 1, sampled_tokens: 2 },
  SpanRun: { sequence_id: 1, offset: 2, length: 3 },
  Chunk: { encoded_text: 1, image: 2, dmel: 3 },
  EncodedTextChunk: { tokens: 1 },
  ImageChunk: { data: 1, format: 2, expected_tokens: 3 },
  DmelChunk: { dmel: 1 },
  Tensor: { dense: 1, sparse_csr: 2, dtype: 3, shape: 4 },
  SparseCsr: { values: 1, crow_indices: 2, col_indices: 3 },
  ForwardBackwardOutput: { loss_fn_output_type: 1, loss_fn_outputs: 2, metrics: 3 },
  ArrayRecord: { type_tag: 1, fields: 2, num_datums: 3 },
  BatchedTensor: { data: 1, offsets: 2, dtype: 3, trailing_shape: 4 },
  SampleResponse: {
    sequences: 1,
    prompt_logprobs: 2,
    topk_prompt_logprobs: 3,
    prompt_cache_hit_tokens: 4,
    target_prompt_logprobs: 5,
    prompt_alt_tokens: 6,
  },
  SampledSequence: { stop_reason: 1, tokens: 2, logprobs: 3, topk_sampled_logprobs: 4 },
  /** Named TopkPromptLogprobs up to 0.25, TopkLogprobs after (field 4 `prompt_length` → `length`). */
  TopkLogprobs: { token_ids: 1, logprobs: 2, k: 3, length: 4 },
  TopkPromptLogprobs: { token_ids: 1, logprobs: 2, k: 3, prompt_length: 4 },
  PromptAltTokens: { tokens: 1, logprobs: 2 },
  MapEntry: { key: 1, value: 2 },
  SamplingParams: { max_tokens: 1, seed: 2, temperature: 3, top_k: 4, top_p: 5, stop_strs: 6, stop_tokens: 7 },
  StopList: { values: 1 },
});

const F = FIELDS;
const LD = WireType.LengthDelimited;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Typed-array views below assume the wire's little-endian byte order.
  throw new Error('@tinker-ts/protocol requires a little-endian host');
}

// ---------------------------------------------------------------- number ⇄ bytes

const TWO_32 = 4294967296;

function numbersToInt32Bytes(values: readonly number[], path: string): Uint8Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      throw new ValidationError(`expected an int32 integer, got ${v}`, `${path}[${i}]`);
    }
    out[i] = v;
  }
  return new Uint8Array(out.buffer);
}

function numbersToInt64Bytes(values: readonly number[], path: string): Uint8Array {
  const out = new Uint32Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isSafeInteger(v)) {
      throw new ValidationError(`expected a safe integer for int64, got ${v}`, `${path}[${i}]`);
    }
    out[2 * i] = v >>> 0;
    out[2 * i + 1] = Math.floor(v / TWO_32) >>> 0;
  }
  return new Uint8Array(out.buffer);
}

function numbersToFloat32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** Copy into a fresh aligned buffer (wire slices may start at any offset). */
function aligned(bytes: Uint8Array): ArrayBuffer {
  // Uint8Array.prototype.slice copies, even on a Node Buffer (whose own slice would share memory).
  return Uint8Array.prototype.slice.call(bytes).buffer;
}

function checkMultiple(bytes: Uint8Array, itemSize: number, what: string, path: string): void {
  if (bytes.length % itemSize !== 0) {
    throw new ProtocolError(`${what} byte length ${bytes.length} is not a multiple of ${itemSize}`, path);
  }
}

function int32BytesToNumbers(bytes: Uint8Array, path: string): number[] {
  checkMultiple(bytes, 4, 'int32', path);
  return Array.from(new Int32Array(aligned(bytes)));
}

function int64BytesToNumbers(bytes: Uint8Array, path: string): number[] {
  checkMultiple(bytes, 8, 'int64', path);
  const words = new Uint32Array(aligned(bytes));
  const n = words.length / 2;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const lo = words[2 * i]!;
    const hi = words[2 * i + 1]! | 0;
    const v = hi * TWO_32 + lo;
    if (!Number.isSafeInteger(v)) {
      throw new ProtocolError(`int64 value does not fit a JavaScript number exactly`, `${path}[${i}]`);
    }
    out[i] = v;
  }
  return out;
}

function float32BytesToNumbers(bytes: Uint8Array, path: string): number[] {
  checkMultiple(bytes, 4, 'float32', path);
  return Array.from(new Float32Array(aligned(bytes)));
}

/** bfloat16 is the upper half of a float32: shift into place (bit-exact). */
function bf16BytesToNumbers(bytes: Uint8Array, path: string): number[] {
  checkMultiple(bytes, 2, 'bfloat16', path);
  const halves = new Uint16Array(aligned(bytes));
  const wide = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) wide[i] = halves[i]! << 16;
  return Array.from(new Float32Array(wide.buffer));
}

const DTYPE_ITEM_SIZE: Record<number, number> = {
  [DType.FLOAT32]: 4,
  [DType.INT64]: 8,
  [DType.INT32]: 4,
  [DType.BFLOAT16]: 2,
};

function wireDtypeToTensorDtype(dtype: number, path: string): TensorDtype {
  switch (dtype) {
    case DType.FLOAT32:
    case DType.BFLOAT16:
      return 'float32';
    case DType.INT64:
    case DType.INT32:
      return 'int64';
    default:
      throw new ProtocolError(`unsupported DType ${dtype}`, path);
  }
}

function tensorDtypeToWire(dtype: TensorDtype, path: string): number {
  if (dtype === 'float32') return DType.FLOAT32;
  if (dtype === 'int64') return DType.INT64;
  throw new ValidationError(`expected dtype "float32" or "int64", got ${JSON.stringify(dtype)}`, path);
}

/** Decode values of a wire dtype, widening as the SDK does. */
function bytesToValues(bytes: Uint8Array, dtype: number, path: string): number[] {
  switch (dtype) {
    case DType.FLOAT32:
      return float32BytesToNumbers(bytes, path);
    case DType.INT64:
      return int64BytesToNumbers(bytes, path);
    case DType.INT32:
      return int32BytesToNumbers(bytes, path);
    case DType.BFLOAT16:
      return bf16BytesToNumbers(bytes, path);
    default:
      throw new ProtocolError(`unsupported DType ${dtype}`, path);
  }
}

function valuesToBytes(values: readonly number[], dtype: TensorDtype, path: string): Uint8Array {
  return dtype === 'int64' ? numbersToInt64Bytes(values, path) : numbersToFloat32Bytes(values);
}

// ---------------------------------------------------------------- reading

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/**
 * A BinaryReader with bounds: every nested message is read within the
 * length its prefix declared, and every wire type is checked against what
 * the field needs.
 */
class WireReader {
  readonly r: BinaryReader;
  readonly buf: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.buf = bytes;
    this.r = new BinaryReader(bytes);
  }

  private assertBounds(path: string): void {
    if (this.r.pos > this.buf.length) throw new ProtocolError('value runs past the end of the input', path);
  }

  get pos(): number {
    return this.r.pos;
  }

  /** Read a length prefix and return where that payload ends. */
  lengthEnd(limit: number, path: string): number {
    const len = this.r.uint32();
    const end = this.r.pos + len;
    if (end > limit) {
      throw new ProtocolError(`length ${len} runs past the end of its message (${limit - this.r.pos} bytes left)`, path);
    }
    return end;
  }

  /** Visit every field up to `end`; `handle` returns false to skip one. */
  fields(end: number, path: string, handle: (fieldNo: number, wireType: WireType) => boolean): void {
    while (this.r.pos < end) {
      const [fieldNo, wireType] = this.r.tag();
      if (!handle(fieldNo, wireType)) {
        if (wireType === WireType.EndGroup) throw new ProtocolError('unexpected end-group tag', path);
        this.r.skip(wireType, fieldNo);
      }
      if (this.r.pos > end) throw new ProtocolError('field runs past the end of its message', path);
    }
  }

  expect(wireType: WireType, want: WireType, path: string): void {
    if (wireType !== want) {
      throw new ProtocolError(`wire type ${wireType} where ${want} was expected`, path);
    }
  }

  bytes(end: number, wireType: WireType, path: string): Uint8Array {
    this.expect(wireType, LD, path);
    const stop = this.lengthEnd(end, path);
    const out = this.buf.subarray(this.r.pos, stop);
    this.r.pos = stop;
    return out;
  }

  string(end: number, wireType: WireType, path: string): string {
    const bytes = this.bytes(end, wireType, path);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new ProtocolError('string is not valid UTF-8', path);
    }
  }

  varintNumber(wireType: WireType, path: string, signed: boolean): number {
    this.expect(wireType, WireType.Varint, path);
    const big = BigInt(signed ? this.r.int64() : this.r.uint64());
    const v = Number(big);
    if (!Number.isSafeInteger(v)) throw new ProtocolError('integer does not fit a JavaScript number exactly', path);
    return v;
  }

  int32(wireType: WireType, path: string): number {
    this.expect(wireType, WireType.Varint, path);
    return this.r.int32();
  }

  uint32(wireType: WireType, path: string): number {
    this.expect(wireType, WireType.Varint, path);
    return this.r.uint32();
  }

  bool(wireType: WireType, path: string): boolean {
    this.expect(wireType, WireType.Varint, path);
    return this.r.bool();
  }

  double(wireType: WireType, path: string): number {
    this.expect(wireType, WireType.Bit64, path);
    const v = this.r.double();
    this.assertBounds(path);
    return v;
  }

  float(wireType: WireType, path: string): number {
    this.expect(wireType, WireType.Bit32, path);
    const v = this.r.float();
    this.assertBounds(path);
    return v;
  }

  /** A repeated int64, packed (proto3 default) or one value per tag. */
  repeatedInt64(end: number, wireType: WireType, path: string, into: number[]): void {
    if (wireType === WireType.Varint) {
      into.push(this.varintNumber(wireType, join(path, into.length), true));
      return;
    }
    this.expect(wireType, LD, path);
    const stop = this.lengthEnd(end, path);
    while (this.r.pos < stop) into.push(this.varintNumber(WireType.Varint, join(path, into.length), true));
    if (this.r.pos !== stop) throw new ProtocolError('packed values run past their length', path);
  }

  /** A repeated int32, packed or not. */
  repeatedInt32(end: number, wireType: WireType, path: string, into: number[]): void {
    if (wireType === WireType.Varint) {
      into.push(this.r.int32());
      return;
    }
    this.expect(wireType, LD, path);
    const stop = this.lengthEnd(end, path);
    while (this.r.pos < stop) into.push(this.r.int32());
    if (this.r.pos !== stop) throw new ProtocolError('packed values run past their length', path);
  }

  /**
   * Read one map entry: its key, and where its value field starts (if any).
   * The caller reads the value with `seek(value.pos)` and then seeks to `end`.
   */
  mapEntry(limit: number, wireType: WireType, path: string): MapEntry {
    this.expect(wireType, LD, path);
    const end = this.lengthEnd(limit, path);
    const entry: MapEntry = { key: '', end };
    this.fields(end, path, (no, wt) => {
      if (no === F.MapEntry.key) {
        entry.key = this.string(end, wt, join(path, 'key'));
        return true;
      }
      if (no === F.MapEntry.value) {
        entry.value = { pos: this.r.pos, wireType: wt };
        this.r.skip(wt, no);
        return true;
      }
      return false;
    });
    return entry;
  }

  seek(pos: number): void {
    this.r.pos = pos;
  }
}

interface MapEntry {
  key: string;
  /** End of the entry's bytes. */
  end: number;
  /** Position just after the value's tag, and its wire type; absent = default value. */
  value?: { pos: number; wireType: WireType };
}

/** Run a decoder, turning any low-level failure into a ProtocolError. */
function decodeWith<T>(what: string, bytes: Uint8Array, body: (w: WireReader) => T): T {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError(`${what}: expected bytes`);
  const w = new WireReader(bytes);
  try {
    return body(w);
  } catch (err) {
    if (err instanceof TinkerProtocolError) {
      if (err instanceof ProtocolError) throw err;
      throw new ProtocolError(`${what}: ${err.message}`, err.field);
    }
    const message = err instanceof Error ? err.message : String(err);
    throw new ProtocolError(`${what} is corrupt or truncated at byte ${w.pos}: ${message}`);
  }
}

// ---------------------------------------------------------------- writing

function writeMessage(w: BinaryWriter, fieldNo: number, body: () => void): void {
  w.tag(fieldNo, LD).fork();
  body();
  w.join();
}

function writeInt64Packed(w: BinaryWriter, fieldNo: number, values: readonly number[], path: string): void {
  if (values.length === 0) return;
  w.tag(fieldNo, LD).fork();
  values.forEach((v, i) => {
    if (!Number.isSafeInteger(v)) throw new ValidationError(`expected a safe integer, got ${v}`, join(path, i));
    w.int64(v);
  });
  w.join();
}

// ---------------------------------------------------------------- Tensor

function writeTensorBody(w: BinaryWriter, td: TensorData, path: string): void {
  const dtype = tensorDtypeToWire(td.dtype, join(path, 'dtype'));
  if (td.sparse_crow_indices != null || td.sparse_col_indices != null) {
    if (td.sparse_crow_indices == null || td.sparse_col_indices == null) {
      throw new ValidationError('sparse_crow_indices and sparse_col_indices must be set together', path);
    }
    writeMessage(w, F.Tensor.sparse_csr, () => {
      w.tag(F.SparseCsr.values, LD).bytes(valuesToBytes(td.data, td.dtype, join(path, 'data')));
      w.tag(F.SparseCsr.crow_indices, LD).bytes(numbersToInt64Bytes(td.sparse_crow_indices!, join(path, 'sparse_crow_indices')));
      w.tag(F.SparseCsr.col_indices, LD).bytes(numbersToInt64Bytes(td.sparse_col_indices!, join(path, 'sparse_col_indices')));
    });
  } else {
    // A set oneof member is always written, even when empty.
    w.tag(F.Tensor.dense, LD).bytes(valuesToBytes(td.data, td.dtype, join(path, 'data')));
  }
  w.tag(F.Tensor.dtype, WireType.Varint).int32(dtype);
  if (td.shape != null) writeInt64Packed(w, F.Tensor.shape, td.shape, join(path, 'shape'));
}

function readTensor(w: WireReader, end: number, path: string): TensorData {
  let dense: Uint8Array | undefined;
  let sparse: { values: Uint8Array; crow: Uint8Array; col: Uint8Array } | undefined;
  let dtype = 0;
  const shape: number[] = [];
  w.fields(end, path, (no, wt) => {
    switch (no) {
      case F.Tensor.dense:
        dense = w.bytes(end, wt, join(path, 'dense'));
        sparse = undefined;
        return true;
      case F.Tensor.sparse_csr: {
        w.expect(wt, LD, join(path, 'sparse_csr'));
        const csrEnd = w.lengthEnd(end, join(path, 'sparse_csr'));
        const s: { values: Uint8Array; crow: Uint8Array; col: Uint8Array } = {
          values: new Uint8Array(0),
          crow: new Uint8Array(0),
          col: new Uint8Array(0),
        };
        w.fields(csrEnd, join(path, 'sparse_csr'), (n2, wt2) => {
          if (n2 === F.SparseCsr.values) s.values = w.bytes(csrEnd, wt2, join(path, 'sparse_csr.values'));
          else if (n2 === F.SparseCsr.crow_indices) s.crow = w.bytes(csrEnd, wt2, join(path, 'sparse_csr.crow_indices'));
          else if (n2 === F.SparseCsr.col_indices) s.col = w.bytes(csrEnd, wt2, join(path, 'sparse_csr.col_indices'));
          else return false;
          return true;
        });
        sparse = s;
        dense = undefined;
        return true;
      }
      case F.Tensor.dtype:
        dtype = w.int32(wt, join(path, 'dtype'));
        return true;
      case F.Tensor.shape:
        w.repeatedInt64(end, wt, join(path, 'shape'), shape);
        return true;
      default:
        return false;
    }
  });
  const tensorDtype = wireDtypeToTensorDtype(dtype, join(path, 'dtype'));
  for (let i = 0; i < shape.length; i++) {
    if (shape[i]! < 0) throw new ProtocolError(`negative dimension ${shape[i]}`, join(path, `shape[${i}]`));
  }
  if (sparse) {
    return {
      data: bytesToValues(sparse.values, dtype, join(path, 'sparse_csr.values')),
      dtype: tensorDtype,
      shape,
      sparse_crow_indices: int64BytesToNumbers(sparse.crow, join(path, 'sparse_csr.crow_indices')),
      sparse_col_indices: int64BytesToNumbers(sparse.col, join(path, 'sparse_csr.col_indices')),
    };
  }
  const td: TensorData = { data: bytesToValues(dense ?? new Uint8Array(0), dtype, join(path, 'dense')), dtype: tensorDtype };
  // proto3 cannot tell an absent shape from an empty one; absent means 1-D.
  if (shape.length > 0) td.shape = shape;
  return td;
}

export function encodeTensor(td: TensorData): Uint8Array {
  const w = new BinaryWriter();
  writeTensorBody(w, td, '');
  return w.finish();
}

export function decodeTensor(bytes: Uint8Array): TensorData {
  return decodeWith('Tensor', bytes, (w) => readTensor(w, bytes.length, ''));
}

// ---------------------------------------------------------------- ForwardBackwardRequest

function writeChunkBody(w: BinaryWriter, chunk: ModelInputChunk, path: string): void {
  switch (chunk.type) {
    case 'encoded_text':
      writeMessage(w, F.Chunk.encoded_text, () => {
        w.tag(F.EncodedTextChunk.tokens, LD).bytes(numbersToInt32Bytes(chunk.tokens, join(path, 'tokens')));
      });
      return;
    case 'image':
      writeMessage(w, F.Chunk.image, () => {
        w.tag(F.ImageChunk.data, LD).bytes(base64ToBytes(chunk.data));
        w.tag(F.ImageChunk.format, LD).string(chunk.format);
        if (chunk.expected_tokens != null) w.tag(F.ImageChunk.expected_tokens, WireType.Varint).int32(chunk.expected_tokens);
      });
      return;
    case 'dmel':
      writeMessage(w, F.Chunk.dmel, () => {
        w.tag(F.DmelChunk.dmel, LD).bytes(base64ToBytes(chunk.dmel));
      });
      return;
    default:
      throw new ValidationError(`${(chunk as { type: string }).type} chunks have no protobuf form`, join(path, 'type'));
  }
}

function readChunk(w: WireReader, end: number, path: string): ModelInputChunk {
  let chunk: ModelInputChunk | undefined;
  w.fields(end, path, (no, wt) => {
    if (no === F.Chunk.encoded_text) {
      w.expect(wt, LD, join(path, 'encoded_text'));
      const e = w.lengthEnd(end, join(path, 'encoded_text'));
      let tokens: number[] = [];
      w.fields(e, join(path, 'encoded_text'), (n2, wt2) => {
        if (n2 !== F.EncodedTextChunk.tokens) return false;
        tokens = int32BytesToNumbers(w.bytes(e, wt2, join(path, 'tokens')), join(path, 'tokens'));
        return true;
      });
      chunk = { type: 'encoded_text', tokens };
      return true;
    }
    if (no === F.Chunk.image) {
      w.expect(wt, LD, join(path, 'image'));
      const e = w.lengthEnd(end, join(path, 'image'));
      let data: Uint8Array = new Uint8Array(0);
      let format = '';
      let expected: number | undefined;
      w.fields(e, join(path, 'image'), (n2, wt2) => {
        if (n2 === F.ImageChunk.data) data = w.bytes(e, wt2, join(path, 'data'));
        else if (n2 === F.ImageChunk.format) format = w.string(e, wt2, join(path, 'format'));
        else if (n2 === F.ImageChunk.expected_tokens) expected = w.int32(wt2, join(path, 'expected_tokens'));
        else return false;
        return true;
      });
      if (format !== 'png' && format !== 'jpeg') {
        throw new ProtocolError(`image format must be "png" or "jpeg", got ${JSON.stringify(format)}`, join(path, 'format'));
      }
      chunk = { type: 'image', data: bytesToBase64(data), format, ...(expected !== undefined ? { expected_tokens: expected } : {}) };
      return true;
    }
    if (no === F.Chunk.dmel) {
      w.expect(wt, LD, join(path, 'dmel'));
      const e = w.lengthEnd(end, join(path, 'dmel'));
      let dmel: Uint8Array = new Uint8Array(0);
      w.fields(e, join(path, 'dmel'), (n2, wt2) => {
        if (n2 !== F.DmelChunk.dmel) return false;
        dmel = w.bytes(e, wt2, join(path, 'dmel'));
        return true;
      });
      chunk = { type: 'dmel', dmel: bytesToBase64(dmel) };
      return true;
    }
    return false;
  });
  if (!chunk) throw new ProtocolError('chunk has none of encoded_text, image, dmel', path);
  return chunk;
}

function writeSpans(w: BinaryWriter, fieldNo: number, spans: readonly ProvenanceSpan[]): void {
  for (const span of spans) {
    writeMessage(w, fieldNo, () => {
      const which = span.type === 'prompt_tokens' ? F.ProvenanceSpan.prompt_tokens : F.ProvenanceSpan.sampled_tokens;
      writeMessage(w, which, () => {
        w.tag(F.SpanRun.sequence_id, LD).string(span.sequence_id);
        if (span.offset !== 0) w.tag(F.SpanRun.offset, WireType.Varint).int64(span.offset);
        if (span.length !== 0) w.tag(F.SpanRun.length, WireType.Varint).int64(span.length);
      });
    });
  }
}

function readSpan(w: WireReader, end: number, path: string): ProvenanceSpan {
  let span: ProvenanceSpan | undefined;
  w.fields(end, path, (no, wt) => {
    if (no !== F.ProvenanceSpan.prompt_tokens && no !== F.ProvenanceSpan.sampled_tokens) return false;
    const kind = no === F.ProvenanceSpan.prompt_tokens ? 'prompt_tokens' : 'sampled_tokens';
    w.expect(wt, LD, join(path, kind));
    const e = w.lengthEnd(end, join(path, kind));
    const run = { sequence_id: '', offset: 0, length: 0 };
    w.fields(e, join(path, kind), (n2, wt2) => {
      if (n2 === F.SpanRun.sequence_id) run.sequence_id = w.string(e, wt2, join(path, 'sequence_id'));
      else if (n2 === F.SpanRun.offset) run.offset = w.varintNumber(wt2, join(path, 'offset'), true);
      else if (n2 === F.SpanRun.length) run.length = w.varintNumber(wt2, join(path, 'length'), true);
      else return false;
      return true;
    });
    span = { type: kind, ...run };
    return true;
  });
  if (!span) throw new ProtocolError('provenance span has neither prompt_tokens nor sampled_tokens', path);
  return span;
}

function writeDatum(w: BinaryWriter, datum: Datum, path: string): void {
  datum.model_input.chunks.forEach((chunk, i) => {
    writeMessage(w, F.Datum.model_input, () => writeChunkBody(w, chunk, join(path, `model_input.chunks[${i}]`)));
  });
  for (const [key, td] of Object.entries(datum.loss_fn_inputs)) {
    writeMessage(w, F.Datum.loss_fn_inputs, () => {
      w.tag(F.MapEntry.key, LD).string(key);
      writeMessage(w, F.MapEntry.value, () => writeTensorBody(w, td, join(path, `loss_fn_inputs.${key}`)));
    });
  }
  if (datum.model_input_spans) writeSpans(w, F.Datum.model_input_spans, datum.model_input_spans);
  if (datum.loss_fn_input_spans) writeSpans(w, F.Datum.loss_fn_input_spans, datum.loss_fn_input_spans);
}

function readDatum(w: WireReader, end: number, path: string): Datum {
  const chunks: ModelInputChunk[] = [];
  const inputs: Record<string, TensorData> = {};
  const modelSpans: ProvenanceSpan[] = [];
  const inputSpans: ProvenanceSpan[] = [];
  w.fields(end, path, (no, wt) => {
    switch (no) {
      case F.Datum.model_input: {
        const p = join(path, `model_input.chunks[${chunks.length}]`);
        w.expect(wt, LD, p);
        chunks.push(readChunk(w, w.lengthEnd(end, p), p));
        return true;
      }
      case F.Datum.loss_fn_inputs:
      {
        const entry = w.mapEntry(end, wt, join(path, 'loss_fn_inputs'));
        const keyPath = join(path, `loss_fn_inputs.${entry.key}`);
        if (!entry.value) throw new ProtocolError('loss input has no tensor', keyPath);
        w.seek(entry.value.pos);
        w.expect(entry.value.wireType, LD, keyPath);
        inputs[entry.key] = readTensor(w, w.lengthEnd(entry.end, keyPath), keyPath);
        w.seek(entry.end);
        return true;
      }
      case F.Datum.model_input_spans:
      case F.Datum.loss_fn_input_spans: {
        const list = no === F.Datum.model_input_spans ? modelSpans : inputSpans;
        const p = join(path, `${no === F.Datum.model_input_spans ? 'model_input_spans' : 'loss_fn_input_spans'}[${list.length}]`);
        w.expect(wt, LD, p);
        list.push(readSpan(w, w.lengthEnd(end, p), p));
        return true;
      }
      default:
        return false;
    }
  });
  const datum: Datum = { model_input: { chunks }, loss_fn_inputs: inputs };
  if (modelSpans.length) datum.model_input_spans = modelSpans;
  if (inputSpans.length) datum.loss_fn_input_spans = inputSpans;
  return datum;
}

/**
 * Encode the JSON-shaped request as the protobuf body of `POST forward_backward`.
 * `forward_only` selects a forward pass. The loss config is written both as
 * field 5 (0.25 servers) and as `loss_fn_config_v2` (newer servers prefer it).
 */
export function encodeForwardBackwardRequest(req: ForwardBackwardRequest): Uint8Array {
  const w = new BinaryWriter();
  const input = req.forward_backward_input;
  w.tag(F.ForwardBackwardRequest.model_id, LD).string(req.model_id);
  // seq_id is a plain int32 on the wire; an absent one is sent as 0, as the SDK does.
  const seqId = req.seq_id ?? 0;
  if (!Number.isInteger(seqId) || seqId < -2147483648 || seqId > 2147483647) {
    throw new ValidationError(`expected an int32 integer, got ${seqId}`, 'seq_id');
  }
  if (seqId !== 0) w.tag(F.ForwardBackwardRequest.seq_id, WireType.Varint).int32(seqId);
  input.data.forEach((datum, i) => {
    writeMessage(w, F.ForwardBackwardRequest.data, () => writeDatum(w, datum, `forward_backward_input.data[${i}]`));
  });
  w.tag(F.ForwardBackwardRequest.loss_fn, LD).string(input.loss_fn);
  for (const [key, value] of Object.entries(input.loss_fn_config ?? {})) {
    if (typeof value !== 'number') {
      throw new ValidationError(`expected a number, got ${JSON.stringify(value)}`, `forward_backward_input.loss_fn_config.${key}`);
    }
    writeMessage(w, F.ForwardBackwardRequest.loss_fn_config, () => {
      w.tag(F.MapEntry.key, LD).string(key);
      w.tag(F.MapEntry.value, WireType.Bit64).double(value);
    });
    writeMessage(w, F.ForwardBackwardRequest.loss_fn_config_v2, () => {
      w.tag(F.MapEntry.key, LD).string(key);
      writeMessage(w, F.MapEntry.value, () => w.tag(F.LossConfigValue.number, WireType.Bit64).double(value));
    });
  }
  if (req.forward_only) w.tag(F.ForwardBackwardRequest.forward_only, WireType.Varint).bool(true);
  return w.finish();
}

/** Decode a protobuf `ForwardBackwardRequest` body into the JSON-shaped request. */
export function decodeForwardBackwardRequest(bytes: Uint8Array): ForwardBackwardRequest {
  return decodeWith('ForwardBackwardRequest', bytes, (w) => {
    const end = bytes.length;
    let modelId = '';
    let seqId = 0;
    let lossFn = '';
    let forwardOnly = false;
    const data: Datum[] = [];
    const configV1: Record<string, number> = {};
    const configV2: Record<string, number> = {};
    let sawV2 = false;
    w.fields(end, '', (no, wt) => {
      switch (no) {
        case F.ForwardBackwardRequest.model_id:
          modelId = w.string(end, wt, 'model_id');
          return true;
        case F.ForwardBackwardRequest.seq_id:
          seqId = w.int32(wt, 'seq_id');
          return true;
        case F.ForwardBackwardRequest.data: {
          const p = `forward_backward_input.data[${data.length}]`;
          w.expect(wt, LD, p);
          data.push(readDatum(w, w.lengthEnd(end, p), p));
          return true;
        }
        case F.ForwardBackwardRequest.loss_fn:
          lossFn = w.string(end, wt, 'forward_backward_input.loss_fn');
          return true;
        case F.ForwardBackwardRequest.loss_fn_config: {
          const entry = w.mapEntry(end, wt, 'forward_backward_input.loss_fn_config');
          const keyPath = `forward_backward_input.loss_fn_config.${entry.key}`;
          configV1[entry.key] = 0;
          if (entry.value) {
            w.seek(entry.value.pos);
            configV1[entry.key] = w.double(entry.value.wireType, keyPath);
          }
          w.seek(entry.end);
          return true;
        }
        case F.ForwardBackwardRequest.loss_fn_config_v2: {
          sawV2 = true;
          const entry = w.mapEntry(end, wt, 'forward_backward_input.loss_fn_config_v2');
          const keyPath = `forward_backward_input.loss_fn_config.${entry.key}`;
          if (!entry.value) throw new ProtocolError('config entry has no value', keyPath);
          w.seek(entry.value.pos);
          w.expect(entry.value.wireType, LD, keyPath);
          {
            const vEnd = w.lengthEnd(entry.end, keyPath);
            let value: number | undefined;
            w.fields(vEnd, keyPath, (n2, wt2) => {
              if (n2 === F.LossConfigValue.number) {
                value = w.double(wt2, keyPath);
                return true;
              }
              if (n2 === F.LossConfigValue.text) {
                const text = w.string(vEnd, wt2, keyPath);
                throw new ProtocolError(`text config values are not supported (got ${JSON.stringify(text)})`, keyPath);
              }
              return false;
            });
            if (value === undefined) throw new ProtocolError('config value has neither number nor text', keyPath);
            configV2[entry.key] = value;
          }
          w.seek(entry.end);
          return true;
        }
        case F.ForwardBackwardRequest.forward_only:
          forwardOnly = w.bool(wt, 'forward_only');
          return true;
        default:
          return false;
      }
    });
    const config = sawV2 ? configV2 : configV1;
    const req: ForwardBackwardRequest = {
      forward_backward_input: {
        data,
        loss_fn: lossFn as LossFnType,
        ...(Object.keys(config).length ? { loss_fn_config: config } : {}),
      },
      model_id: modelId,
    };
    // int32 on the wire may be negative; seq_ids never are, as on the JSON routes.
    if (seqId < 0) throw new ValidationError(`expected integer >= 0, got number ${seqId}`, 'seq_id');
    // 0 is proto3's "unset": the SDK sends 0 for a request without seq_id.
    if (seqId !== 0) req.seq_id = seqId;
    if (forwardOnly) req.forward_only = true;
    return req;
  });
}

// ---------------------------------------------------------------- ForwardBackwardOutput

interface RecordGroup {
  names: string[];
  dtypes: TensorDtype[];
  trailing: number[][];
  datums: LossFnOutput[];
}

function trailingShape(td: TensorData): number[] {
  return (td.shape ?? [td.data.length]).slice(1);
}

/**
 * Encode per-datum outputs as ArrayRecords: consecutive datums whose fields
 * share dtype and trailing shape go into one record (the SDK concatenates
 * records back in order, so ragged outputs become several records).
 */
export function encodeForwardBackwardOutput(out: ForwardBackwardOutput): Uint8Array {
  const w = new BinaryWriter();
  if (out.loss_fn_output_type) w.tag(F.ForwardBackwardOutput.loss_fn_output_type, LD).string(out.loss_fn_output_type);
  const groups: RecordGroup[] = [];
  const names = out.loss_fn_outputs.length ? Object.keys(out.loss_fn_outputs[0]!).sort() : [];
  out.loss_fn_outputs.forEach((datum, i) => {
    const keys = Object.keys(datum).sort();
    if (keys.join('\0') !== names.join('\0')) {
      throw new ValidationError(`every output must have the same fields (${names.join(', ')}), got ${keys.join(', ')}`, `loss_fn_outputs[${i}]`);
    }
    const dtypes = names.map((n) => datum[n]!.dtype);
    const trailing = names.map((n) => trailingShape(datum[n]!));
    const last = groups[groups.length - 1];
    const same =
      last &&
      last.dtypes.every((d, j) => d === dtypes[j]) &&
      last.trailing.every((t, j) => t.join(',') === trailing[j]!.join(','));
    if (same) last.datums.push(datum);
    else groups.push({ names, dtypes, trailing, datums: [datum] });
  });
  for (const group of groups) {
    writeMessage(w, F.ForwardBackwardOutput.loss_fn_outputs, () => {
      w.tag(F.ArrayRecord.type_tag, LD).string('ArrayRecord');
      group.names.forEach((name, j) => {
        const dtype = group.dtypes[j]!;
        const itemSize = dtype === 'int64' ? 8 : 4;
        const offsets: number[] = [0];
        const values: number[] = [];
        for (const datum of group.datums) {
          const td = datum[name]!;
          if (td.sparse_crow_indices != null) {
            throw new ValidationError('outputs must be dense', `loss_fn_outputs.${name}`);
          }
          for (const v of td.data) values.push(v);
          offsets.push(values.length * itemSize);
        }
        writeMessage(w, F.ArrayRecord.fields, () => {
          w.tag(F.MapEntry.key, LD).string(name);
          writeMessage(w, F.MapEntry.value, () => {
            w.tag(F.BatchedTensor.data, LD).bytes(valuesToBytes(values, dtype, `loss_fn_outputs.${name}`));
            w.tag(F.BatchedTensor.offsets, LD).bytes(numbersToInt64Bytes(offsets, `loss_fn_outputs.${name}`));
            w.tag(F.BatchedTensor.dtype, WireType.Varint).int32(tensorDtypeToWire(dtype, `loss_fn_outputs.${name}`));
            writeInt64Packed(w, F.BatchedTensor.trailing_shape, group.trailing[j]!, `loss_fn_outputs.${name}`);
          });
        });
      });
      w.tag(F.ArrayRecord.num_datums, WireType.Varint).int64(group.datums.length);
    });
  }
  for (const [key, value] of Object.entries(out.metrics)) {
    writeMessage(w, F.ForwardBackwardOutput.metrics, () => {
      w.tag(F.MapEntry.key, LD).string(key);
      w.tag(F.MapEntry.value, WireType.Bit64).double(value);
    });
  }
  return w.finish();
}

interface BatchedTensorWire {
  data: Uint8Array;
  offsets: Uint8Array;
  dtype: number;
  trailing: number[];
}

function readBatchedTensor(w: WireReader, end: number, path: string): BatchedTensorWire {
  const bt: BatchedTensorWire = { data: new Uint8Array(0), offsets: new Uint8Array(0), dtype: 0, trailing: [] };
  w.fields(end, path, (no, wt) => {
    switch (no) {
      case F.BatchedTensor.data:
        bt.data = w.bytes(end, wt, join(path, 'data'));
        return true;
      case F.BatchedTensor.offsets:
        bt.offsets = w.bytes(end, wt, join(path, 'offsets'));
        return true;
      case F.BatchedTensor.dtype:
        bt.dtype = w.int32(wt, join(path, 'dtype'));
        return true;
      case F.BatchedTensor.trailing_shape:
        w.repeatedInt64(end, wt, join(path, 'trailing_shape'), bt.trailing);
        return true;
      default:
        return false;
    }
  });
  return bt;
}

/** Slice a BatchedTensor into per-datum TensorData, as the SDK's response_conv does. */
function splitBatchedTensor(bt: BatchedTensorWire, path: string): TensorData[] {
  const dtype = wireDtypeToTensorDtype(bt.dtype, join(path, 'dtype'));
  const itemSize = DTYPE_ITEM_SIZE[bt.dtype]!;
  const offsets = int64BytesToNumbers(bt.offsets, join(path, 'offsets'));
  let trailingElems = 1;
  for (const d of bt.trailing) {
    if (d < 0) throw new ProtocolError(`negative trailing dimension ${d}`, join(path, 'trailing_shape'));
    trailingElems *= d;
  }
  const out: TensorData[] = [];
  for (let i = 0; i + 1 < offsets.length; i++) {
    const start = offsets[i]!;
    const stop = offsets[i + 1]!;
    if (start < 0 || stop < start || stop > bt.data.length || start % itemSize !== 0 || stop % itemSize !== 0) {
      throw new ProtocolError(
        `byte offsets [${start}, ${stop}) do not fit ${bt.data.length} data bytes of ${itemSize}-byte items`,
        join(path, `offsets[${i}]`),
      );
    }
    const values = bytesToValues(bt.data.subarray(start, stop), bt.dtype, join(path, 'data'));
    const leading = trailingElems ? Math.floor(values.length / trailingElems) : 0;
    if (trailingElems && leading * trailingElems !== values.length) {
      throw new ProtocolError(`${values.length} values do not fill trailing shape [${bt.trailing.join(', ')}]`, join(path, `offsets[${i}]`));
    }
    out.push({ data: values, dtype, shape: [leading, ...bt.trailing] });
  }
  return out;
}

/** Decode a protobuf `ForwardBackwardOutput` into the SDK's JSON shape. */
export function decodeForwardBackwardOutput(bytes: Uint8Array): ForwardBackwardOutput {
  return decodeWith('ForwardBackwardOutput', bytes, (w) => {
    const end = bytes.length;
    let outputType = '';
    const metrics: Record<string, number> = {};
    const outputs: LossFnOutput[] = [];
    let fieldNames: string[] | undefined;
    let recordIndex = 0;
    w.fields(end, '', (no, wt) => {
      switch (no) {
        case F.ForwardBackwardOutput.loss_fn_output_type:
          outputType = w.string(end, wt, 'loss_fn_output_type');
          return true;
        case F.ForwardBackwardOutput.metrics: {
          const entry = w.mapEntry(end, wt, 'metrics');
          metrics[entry.key] = 0;
          if (entry.value) {
            w.seek(entry.value.pos);
            metrics[entry.key] = w.double(entry.value.wireType, `metrics.${entry.key}`);
          }
          w.seek(entry.end);
          return true;
        }
        case F.ForwardBackwardOutput.loss_fn_outputs: {
          const p = `loss_fn_outputs[record ${recordIndex++}]`;
          w.expect(wt, LD, p);
          const recEnd = w.lengthEnd(end, p);
          const fields: Record<string, TensorData[]> = {};
          let numDatums = 0;
          w.fields(recEnd, p, (n2, wt2) => {
            if (n2 === F.ArrayRecord.type_tag) {
              w.string(recEnd, wt2, join(p, 'type_tag'));
              return true;
            }
            if (n2 === F.ArrayRecord.num_datums) {
              numDatums = w.varintNumber(wt2, join(p, 'num_datums'), true);
              return true;
            }
            if (n2 === F.ArrayRecord.fields) {
              const entry = w.mapEntry(recEnd, wt2, join(p, 'fields'));
              const keyPath = join(p, `fields.${entry.key}`);
              if (!entry.value) throw new ProtocolError('field has no BatchedTensor', keyPath);
              w.seek(entry.value.pos);
              w.expect(entry.value.wireType, LD, keyPath);
              const bt = readBatchedTensor(w, w.lengthEnd(entry.end, keyPath), keyPath);
              fields[entry.key] = splitBatchedTensor(bt, keyPath);
              w.seek(entry.end);
              return true;
            }
            return false;
          });
          const names = Object.keys(fields).sort();
          if (fieldNames === undefined) fieldNames = names;
          else if (names.length && names.join('\0') !== fieldNames.join('\0')) {
            throw new ProtocolError(`records disagree on fields: ${fieldNames.join(', ')} vs ${names.join(', ')}`, p);
          }
          let count = numDatums;
          for (const name of names) {
            const n = fields[name]!.length;
            if (numDatums === 0) count = n;
            if (n !== count) throw new ProtocolError(`field has ${n} datums, record says ${count}`, join(p, `fields.${name}`));
          }
          if (count < 0 || count > bytes.length) {
            throw new ProtocolError(`num_datums ${count} is implausible for a ${bytes.length}-byte message`, join(p, 'num_datums'));
          }
          for (let i = 0; i < count; i++) {
            const datum: LossFnOutput = {};
            for (const name of names) datum[name] = fields[name]![i]!;
            outputs.push(datum);
          }
          return true;
        }
        default:
          return false;
      }
    });
    // As the SDK: the bare class name after the last ':', or 'ArrayRecord' when nothing came back.
    const className = outputs.length ? outputType.slice(outputType.lastIndexOf(':') + 1) : outputType || 'ArrayRecord';
    return {
      loss_fn_output_type: className,
      loss_fn_outputs: outputs,
      metrics,
    };
  });
}

// ---------------------------------------------------------------- SampleResponse

type TopkRows = Array<Array<[number, number]> | null>;

/** Pad rows of (token, logprob) pairs into N×K matrices with the SDK's sentinels. */
function writeTopk(w: BinaryWriter, fieldNo: number, rows: TopkRows, path: string): void {
  let k = 0;
  for (const row of rows) if (row && row.length > k) k = row.length;
  if (rows.length > 0) k = Math.max(k, 1);
  const ids = new Int32Array(rows.length * k);
  const lps = new Float32Array(rows.length * k).fill(MASK_LOGPROB);
  rows.forEach((row, i) => {
    row?.forEach(([id, lp], j) => {
      if (!Number.isInteger(id) || id < 0 || id > 2147483647) {
        throw new ValidationError(`expected a token id, got ${id}`, `${path}[${i}][${j}]`);
      }
      ids[i * k + j] = id;
      lps[i * k + j] = lp;
    });
  });
  writeMessage(w, fieldNo, () => {
    w.tag(F.TopkLogprobs.token_ids, LD).bytes(new Uint8Array(ids.buffer));
    w.tag(F.TopkLogprobs.logprobs, LD).bytes(new Uint8Array(lps.buffer));
    if (k) w.tag(F.TopkLogprobs.k, WireType.Varint).uint32(k);
    if (rows.length) w.tag(F.TopkLogprobs.length, WireType.Varint).uint32(rows.length);
  });
}

/** Inverse of writeTopk, with the SDK's rule: a row whose first slot is the sentinel is null; trailing sentinels are dropped. */
function readTopk(w: WireReader, end: number, path: string): TopkRows | undefined {
  let ids: Uint8Array = new Uint8Array(0);
  let lps: Uint8Array = new Uint8Array(0);
  let k = 0;
  let n = 0;
  w.fields(end, path, (no, wt) => {
    if (no === F.TopkLogprobs.token_ids) ids = w.bytes(end, wt, join(path, 'token_ids'));
    else if (no === F.TopkLogprobs.logprobs) lps = w.bytes(end, wt, join(path, 'logprobs'));
    else if (no === F.TopkLogprobs.k) k = w.uint32(wt, join(path, 'k'));
    else if (no === F.TopkLogprobs.length) n = w.uint32(wt, join(path, 'length'));
    else return false;
    return true;
  });
  if (n === 0 || k === 0) return undefined;
  const idVals = int32BytesToNumbers(ids, join(path, 'token_ids'));
  const lpVals = float32BytesToNumbers(lps, join(path, 'logprobs'));
  if (idVals.length !== n * k || lpVals.length !== n * k) {
    throw new ProtocolError(`expected ${n}×${k} = ${n * k} entries, got ${idVals.length} ids and ${lpVals.length} logprobs`, path);
  }
  const rows: TopkRows = [];
  for (let i = 0; i < n; i++) {
    const start = i * k;
    const isMask = (j: number) => idVals[j] === 0 && lpVals[j] === MASK_LOGPROB;
    if (isMask(start)) {
      rows.push(null);
      continue;
    }
    let stop = start + k;
    while (stop > start && isMask(stop - 1)) stop--;
    const row: Array<[number, number]> = [];
    for (let j = start; j < stop; j++) row.push([idVals[j]!, lpVals[j]!]);
    rows.push(row);
  }
  return rows;
}

function writeSequence(w: BinaryWriter, seq: SampledSequence, path: string): void {
  if (seq.stop_reason !== 'stop' && seq.stop_reason !== 'length') {
    throw new ValidationError(`expected "stop" or "length", got ${JSON.stringify(seq.stop_reason)}`, join(path, 'stop_reason'));
  }
  if (seq.stop_reason === 'length') w.tag(F.SampledSequence.stop_reason, WireType.Varint).int32(ProtoStopReason.LENGTH);
  w.tag(F.SampledSequence.tokens, LD).bytes(numbersToInt32Bytes(seq.tokens, join(path, 'tokens')));
  if (seq.logprobs != null) w.tag(F.SampledSequence.logprobs, LD).bytes(numbersToFloat32Bytes(seq.logprobs));
  if (seq.topk_logprobs != null) {
    writeTopk(w, F.SampledSequence.topk_sampled_logprobs, seq.topk_logprobs, join(path, 'topk_sampled_logprobs'));
  }
}

function readSequence(w: WireReader, end: number, path: string): SampledSequence {
  let stop = 0;
  let tokens: number[] = [];
  let logprobs: number[] | undefined;
  let topk: TopkRows | undefined;
  w.fields(end, path, (no, wt) => {
    switch (no) {
      case F.SampledSequence.stop_reason:
        stop = w.int32(wt, join(path, 'stop_reason'));
        return true;
      case F.SampledSequence.tokens:
        tokens = int32BytesToNumbers(w.bytes(end, wt, join(path, 'tokens')), join(path, 'tokens'));
        return true;
      case F.SampledSequence.logprobs: {
        const b = w.bytes(end, wt, join(path, 'logprobs'));
        // Empty bytes mean "not requested", as in the SDK.
        logprobs = b.length ? float32BytesToNumbers(b, join(path, 'logprobs')) : undefined;
        return true;
      }
      case F.SampledSequence.topk_sampled_logprobs: {
        const p = join(path, 'topk_sampled_logprobs');
        w.expect(wt, LD, p);
        topk = readTopk(w, w.lengthEnd(end, p), p);
        return true;
      }
      default:
        return false;
    }
  });
  if (stop !== ProtoStopReason.STOP && stop !== ProtoStopReason.LENGTH) {
    throw new ProtocolError(`unknown stop_reason ${stop}`, join(path, 'stop_reason'));
  }
  const seq: SampledSequence = { stop_reason: stop === ProtoStopReason.STOP ? 'stop' : 'length', tokens };
  if (logprobs) seq.logprobs = logprobs;
  if (topk) seq.topk_logprobs = topk;
  return seq;
}

export function encodeSampleResponse(resp: SampleResponse): Uint8Array {
  const w = new BinaryWriter();
  resp.sequences.forEach((seq, i) => writeMessage(w, F.SampleResponse.sequences, () => writeSequence(w, seq, `sequences[${i}]`)));
  if (resp.prompt_logprobs != null) {
    const values = resp.prompt_logprobs.map((v) => (v == null ? Number.NaN : v));
    w.tag(F.SampleResponse.prompt_logprobs, LD).bytes(numbersToFloat32Bytes(values));
  }
  if (resp.topk_prompt_logprobs != null) {
    writeTopk(w, F.SampleResponse.topk_prompt_logprobs, resp.topk_prompt_logprobs, 'topk_prompt_logprobs');
  }
  const hits = resp.prompt_cache_hit_tokens ?? 0;
  if (hits) w.tag(F.SampleResponse.prompt_cache_hit_tokens, WireType.Varint).int32(hits);
  if (resp.target_prompt_logprobs) {
    writeMessage(w, F.SampleResponse.target_prompt_logprobs, () =>
      writeTensorBody(w, resp.target_prompt_logprobs!, 'target_prompt_logprobs'),
    );
  }
  if (resp.prompt_alt_tokens) {
    const alt = resp.prompt_alt_tokens;
    writeMessage(w, F.SampleResponse.prompt_alt_tokens, () => {
      writeMessage(w, F.PromptAltTokens.tokens, () => writeTensorBody(w, alt.tokens, 'prompt_alt_tokens.tokens'));
      writeMessage(w, F.PromptAltTokens.logprobs, () => writeTensorBody(w, alt.logprobs, 'prompt_alt_tokens.logprobs'));
    });
  }
  return w.finish();
}

/** Decode a protobuf `SampleResponse` into the JSON shape (NaN prompt logprobs become null). */
export function decodeSampleResponse(bytes: Uint8Array): SampleResponse {
  return decodeWith('SampleResponse', bytes, (w) => {
    const end = bytes.length;
    const resp: SampleResponse = { sequences: [] };
    w.fields(end, '', (no, wt) => {
      switch (no) {
        case F.SampleResponse.sequences: {
          const p = `sequences[${resp.sequences.length}]`;
          w.expect(wt, LD, p);
          resp.sequences.push(readSequence(w, w.lengthEnd(end, p), p));
          return true;
        }
        case F.SampleResponse.prompt_logprobs: {
          const b = w.bytes(end, wt, 'prompt_logprobs');
          resp.prompt_logprobs = b.length
            ? float32BytesToNumbers(b, 'prompt_logprobs').map((v) => (Number.isNaN(v) ? null : v))
            : undefined;
          if (resp.prompt_logprobs === undefined) delete resp.prompt_logprobs;
          return true;
        }
        case F.SampleResponse.topk_prompt_logprobs: {
          w.expect(wt, LD, 'topk_prompt_logprobs');
          const rows = readTopk(w, w.lengthEnd(end, 'topk_prompt_logprobs'), 'topk_prompt_logprobs');
          if (rows) resp.topk_prompt_logprobs = rows;
          return true;
        }
        case F.SampleResponse.prompt_cache_hit_tokens:
          resp.prompt_cache_hit_tokens = w.int32(wt, 'prompt_cache_hit_tokens');
          return true;
        case F.SampleResponse.target_prompt_logprobs:
          w.expect(wt, LD, 'target_prompt_logprobs');
          resp.target_prompt_logprobs = readTensor(w, w.lengthEnd(end, 'target_prompt_logprobs'), 'target_prompt_logprobs');
          return true;
        case F.SampleResponse.prompt_alt_tokens: {
          w.expect(wt, LD, 'prompt_alt_tokens');
          const e = w.lengthEnd(end, 'prompt_alt_tokens');
          let tokens: TensorData | undefined;
          let logprobs: TensorData | undefined;
          w.fields(e, 'prompt_alt_tokens', (n2, wt2) => {
            if (n2 !== F.PromptAltTokens.tokens && n2 !== F.PromptAltTokens.logprobs) return false;
            const p = n2 === F.PromptAltTokens.tokens ? 'prompt_alt_tokens.tokens' : 'prompt_alt_tokens.logprobs';
            w.expect(wt2, LD, p);
            const t = readTensor(w, w.lengthEnd(e, p), p);
            if (n2 === F.PromptAltTokens.tokens) tokens = t;
            else logprobs = t;
            return true;
          });
          if (!tokens || !logprobs) throw new ProtocolError('needs both tokens and logprobs', 'prompt_alt_tokens');
          const alt = { tokens, logprobs };
          resp.prompt_alt_tokens = alt;
          return true;
        }
        default:
          return false;
      }
    });
    if (resp.prompt_cache_hit_tokens === undefined) resp.prompt_cache_hit_tokens = 0;
    return resp;
  });
}

// ---------------------------------------------------------------- SamplingParams

export function encodeSamplingParams(p: SamplingParams): Uint8Array {
  const w = new BinaryWriter();
  if (p.max_tokens != null) w.tag(F.SamplingParams.max_tokens, WireType.Varint).int32(p.max_tokens);
  if (p.seed != null) w.tag(F.SamplingParams.seed, WireType.Varint).uint64(p.seed);
  if (p.temperature != null) w.tag(F.SamplingParams.temperature, WireType.Bit32).float(p.temperature);
  if (p.top_k != null) w.tag(F.SamplingParams.top_k, WireType.Varint).int32(p.top_k);
  if (p.top_p != null) w.tag(F.SamplingParams.top_p, WireType.Bit32).float(p.top_p);
  if (p.stop != null) {
    const list = typeof p.stop === 'string' ? [p.stop] : p.stop;
    if (list.length && typeof list[0] === 'number') {
      writeMessage(w, F.SamplingParams.stop_tokens, () => {
        w.tag(F.StopList.values, LD).fork();
        for (const t of list as number[]) w.int32(t);
        w.join();
      });
    } else {
      writeMessage(w, F.SamplingParams.stop_strs, () => {
        for (const s of list as string[]) w.tag(F.StopList.values, LD).string(s);
      });
    }
  }
  return w.finish();
}

export function decodeSamplingParams(bytes: Uint8Array): SamplingParams {
  return decodeWith('SamplingParams', bytes, (w) => {
    const end = bytes.length;
    const p: SamplingParams = {};
    w.fields(end, '', (no, wt) => {
      switch (no) {
        case F.SamplingParams.max_tokens:
          p.max_tokens = w.int32(wt, 'max_tokens');
          return true;
        case F.SamplingParams.seed:
          p.seed = w.varintNumber(wt, 'seed', false);
          return true;
        case F.SamplingParams.temperature:
          p.temperature = w.float(wt, 'temperature');
          return true;
        case F.SamplingParams.top_k:
          p.top_k = w.int32(wt, 'top_k');
          return true;
        case F.SamplingParams.top_p:
          p.top_p = w.float(wt, 'top_p');
          return true;
        case F.SamplingParams.stop_strs: {
          w.expect(wt, LD, 'stop');
          const e = w.lengthEnd(end, 'stop');
          const strs: string[] = [];
          w.fields(e, 'stop', (n2, wt2) => {
            if (n2 !== F.StopList.values) return false;
            strs.push(w.string(e, wt2, `stop[${strs.length}]`));
            return true;
          });
          p.stop = strs;
          return true;
        }
        case F.SamplingParams.stop_tokens: {
          w.expect(wt, LD, 'stop');
          const e = w.lengthEnd(end, 'stop');
          const toks: number[] = [];
          w.fields(e, 'stop', (n2, wt2) => {
            if (n2 !== F.StopList.values) return false;
            w.repeatedInt32(e, wt2, 'stop', toks);
            return true;
          });
          p.stop = toks;
          return true;
        }
        default:
          return false;
      }
    });
    return p;
  });
}
