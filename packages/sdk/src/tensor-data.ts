// A typed, shaped tensor as the training API sees it: `float32` or `int64`, dense or sparse CSR.
// Values live in typed arrays (int64 as Float64Array: every integer up to 2^53 is exact),
// and convert to and from the wire's flat JSON form.
import { maybeSparsify, type TensorData as WireTensorData, type TensorDtype } from '@tinker-ts/protocol';
import { ValidationError } from './errors.js';

export type { TensorDtype };

/** Anything a tensor's values can be given as. */
export type NumericArray =
  | readonly number[]
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array;

/** Storage per dtype. */
export type TensorStorage = Float32Array | Float64Array;

export interface SparseCsr {
  /** Row pointers, rows + 1 entries. */
  crowIndices: readonly number[];
  /** Column of each non-zero value. */
  colIndices: readonly number[];
}

export interface TensorDataOptions {
  dtype: TensorDtype;
  /** Dense shape; defaults to 1-D `[values.length]`. Required for sparse tensors. */
  shape?: readonly number[];
  /** When given, `values` holds only the non-zero entries (CSR, 2-D). */
  sparse?: SparseCsr;
  /** Name used in error messages, e.g. `loss_fn_inputs.weights`. */
  field?: string;
}

export class TensorData {
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  /** Dense values (row-major), or the non-zero values when sparse. */
  readonly values: TensorStorage;
  readonly sparse: SparseCsr | undefined;

  constructor(values: NumericArray, opts: TensorDataOptions) {
    const field = opts.field ?? 'tensor';
    if (opts.dtype !== 'float32' && opts.dtype !== 'int64') {
      throw new ValidationError(`${field}.dtype: must be 'float32' or 'int64', got ${JSON.stringify(opts.dtype)}`, {
        field: `${field}.dtype`,
      });
    }
    this.dtype = opts.dtype;
    this.values = toStorage(values, opts.dtype, field);
    this.sparse = opts.sparse ? { crowIndices: [...opts.sparse.crowIndices], colIndices: [...opts.sparse.colIndices] } : undefined;
    this.shape = opts.shape ? [...opts.shape] : [this.values.length];
    checkShape(this, field);
  }

  /** A dense tensor from a flat array (or nested rows, which set the shape). */
  static from(values: NumericArray | readonly (readonly number[])[], dtype: TensorDtype, shape?: readonly number[]): TensorData {
    if (isNested(values)) {
      const { flat, shape: inferred } = flattenRows(values, 'tensor');
      return new TensorData(flat, { dtype, shape: shape ?? inferred });
    }
    return new TensorData(values as NumericArray, shape ? { dtype, shape } : { dtype });
  }

  static float32(values: NumericArray, shape?: readonly number[]): TensorData {
    return TensorData.from(values, 'float32', shape);
  }

  static int64(values: NumericArray, shape?: readonly number[]): TensorData {
    return TensorData.from(values, 'int64', shape);
  }

  /** A sparse CSR tensor of a 2-D dense shape. */
  static sparseCsr(values: NumericArray, crowIndices: readonly number[], colIndices: readonly number[], shape: readonly [number, number], dtype: TensorDtype): TensorData {
    return new TensorData(values, { dtype, shape, sparse: { crowIndices, colIndices } });
  }

  /**
   * CSR when it is smaller than dense (2-D only), as the official SDK does for
   * `target_tokens` and `weights`: rows+1 + 2·nnz < rows·cols.
   */
  static sparsifyIfSmaller(dense: TensorData): TensorData {
    if (dense.sparse || dense.shape.length !== 2) return dense;
    const wire = dense.toWire();
    const encoded = maybeSparsify(wire);
    return encoded === wire ? dense : TensorData.fromWire(encoded);
  }

  static fromWire(wire: WireTensorData | { data: NumericArray; dtype: TensorDtype; shape?: readonly number[] | null; sparse_crow_indices?: readonly number[] | null; sparse_col_indices?: readonly number[] | null }, field = 'tensor'): TensorData {
    if (wire === null || typeof wire !== 'object') {
      throw new ValidationError(`${field}: expected a TensorData object`, { field });
    }
    const crow = wire.sparse_crow_indices ?? undefined;
    const col = wire.sparse_col_indices ?? undefined;
    if ((crow === undefined) !== (col === undefined)) {
      throw new ValidationError(`${field}: sparse_crow_indices and sparse_col_indices must be given together`, { field });
    }
    const opts: TensorDataOptions = { dtype: wire.dtype, field };
    if (wire.shape) opts.shape = wire.shape;
    if (crow && col) {
      if (!wire.shape) throw new ValidationError(`${field}.shape: required for a sparse tensor`, { field: `${field}.shape` });
      opts.sparse = { crowIndices: crow, colIndices: col };
    }
    return new TensorData(wire.data, opts);
  }

  get isSparse(): boolean {
    return this.sparse !== undefined;
  }

  /** Number of elements of the dense tensor. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The dense tensor (a copy when sparse, this when already dense). */
  toDense(): TensorData {
    if (!this.sparse) return this;
    return new TensorData(this.denseValues(), { dtype: this.dtype, shape: this.shape });
  }

  /** Dense, flattened values as plain numbers. */
  toArray(): number[] {
    return Array.from(this.denseValues());
  }

  /** Dense 2-D rows (for shape [rows, cols]); 1-D tensors give one row. */
  toRows(): number[][] {
    const flat = this.toArray();
    const cols = this.shape.length >= 2 ? this.shape[this.shape.length - 1]! : flat.length;
    const rows: number[][] = [];
    for (let i = 0; i < flat.length; i += cols) rows.push(flat.slice(i, i + cols));
    if (rows.length === 0) rows.push([]);
    return rows;
  }

  /** Dense values in the dtype's natural typed array: Float32Array, or BigInt64Array for int64. */
  toTypedArray(): Float32Array | BigInt64Array {
    const dense = this.denseValues();
    if (this.dtype === 'float32') return dense as Float32Array;
    const out = new BigInt64Array(dense.length);
    for (let i = 0; i < dense.length; i++) out[i] = BigInt(dense[i]!);
    return out;
  }

  toWire(): WireTensorData {
    const wire: WireTensorData = { data: Array.from(this.values), dtype: this.dtype, shape: [...this.shape] };
    if (this.sparse) {
      wire.sparse_crow_indices = [...this.sparse.crowIndices];
      wire.sparse_col_indices = [...this.sparse.colIndices];
    }
    return wire;
  }

  /** Bytes this tensor takes in the protobuf body (values + int64 CSR indices). */
  wireBytes(): number {
    let n = this.values.length * (this.dtype === 'float32' ? 4 : 8);
    if (this.sparse) n += 8 * (this.sparse.crowIndices.length + this.sparse.colIndices.length);
    return n;
  }

  private denseValues(): TensorStorage {
    if (!this.sparse) return this.values;
    const dense = this.dtype === 'float32' ? new Float32Array(this.size) : new Float64Array(this.size);
    const cols = this.shape[1]!;
    const { crowIndices, colIndices } = this.sparse;
    for (let r = 0; r + 1 < crowIndices.length; r++) {
      for (let k = crowIndices[r]!; k < crowIndices[r + 1]!; k++) dense[r * cols + colIndices[k]!] = this.values[k]!;
    }
    return dense;
  }
}

function toStorage(values: NumericArray, dtype: TensorDtype, field: string): TensorStorage {
  if (values === null || typeof values !== 'object' || typeof (values as { length?: unknown }).length !== 'number') {
    throw new ValidationError(`${field}.data: expected an array of numbers`, { field: `${field}.data` });
  }
  if (dtype === 'float32') {
    if (values instanceof BigInt64Array) return Float32Array.from(values, (v) => Number(v));
    if (!ArrayBuffer.isView(values)) checkNumbers(values as ArrayLike<number>, field, false);
    return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
  }
  if (values instanceof BigInt64Array) {
    return Float64Array.from(values, (v) => {
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new ValidationError(`${field}.data: int64 value ${v} is beyond ±2^53`, { field: `${field}.data` });
      }
      return Number(v);
    });
  }
  if (values instanceof Float32Array || values instanceof Float64Array || !ArrayBuffer.isView(values)) {
    checkNumbers(values as ArrayLike<number>, field, true);
  }
  return values instanceof Float64Array ? values : Float64Array.from(values as ArrayLike<number>);
}

function checkNumbers(values: ArrayLike<number>, field: string, integer: boolean): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || (integer && Number.isNaN(v))) {
      throw new ValidationError(`${field}.data[${i}]: expected a number, got ${JSON.stringify(v)}`, { field: `${field}.data` });
    }
    if (integer && !Number.isInteger(v)) {
      throw new ValidationError(`${field}.data[${i}]: int64 tensor holds non-integer ${v} (wrong dtype?)`, { field: `${field}.data` });
    }
  }
}

function checkShape(t: TensorData, field: string): void {
  for (const d of t.shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ValidationError(`${field}.shape: dimensions must be non-negative integers, got [${t.shape.join(', ')}]`, { field: `${field}.shape` });
    }
  }
  if (!t.sparse) {
    if (t.size !== t.values.length) {
      throw new ValidationError(`${field}: ${t.values.length} values do not fill shape [${t.shape.join(', ')}]`, { field: `${field}.shape` });
    }
    return;
  }
  if (t.shape.length !== 2) {
    throw new ValidationError(`${field}.shape: a sparse CSR tensor must be 2-D, got [${t.shape.join(', ')}]`, { field: `${field}.shape` });
  }
  const [rows, cols] = t.shape as [number, number];
  const { crowIndices, colIndices } = t.sparse;
  if (crowIndices.length !== rows + 1 || crowIndices[0] !== 0 || crowIndices[rows] !== t.values.length) {
    throw new ValidationError(`${field}.sparse_crow_indices: must have rows+1 = ${rows + 1} entries from 0 to nnz = ${t.values.length}`, { field: `${field}.sparse_crow_indices` });
  }
  for (let r = 0; r < rows; r++) {
    if (crowIndices[r + 1]! < crowIndices[r]!) {
      throw new ValidationError(`${field}.sparse_crow_indices: must not decrease (row ${r})`, { field: `${field}.sparse_crow_indices` });
    }
  }
  if (colIndices.length !== t.values.length) {
    throw new ValidationError(`${field}.sparse_col_indices: ${colIndices.length} entries for ${t.values.length} values`, { field: `${field}.sparse_col_indices` });
  }
  for (const c of colIndices) {
    if (!Number.isInteger(c) || c < 0 || c >= cols) {
      throw new ValidationError(`${field}.sparse_col_indices: column ${c} outside [0, ${cols})`, { field: `${field}.sparse_col_indices` });
    }
  }
}

function isNested(values: unknown): values is readonly (readonly number[])[] {
  return Array.isArray(values) && values.length > 0 && Array.isArray(values[0]);
}

/** Flattens rectangular rows; ragged rows are an error naming the field. */
export function flattenRows(rows: readonly (readonly number[])[], field: string): { flat: number[]; shape: [number, number] } {
  const cols = rows[0]!.length;
  const flat: number[] = [];
  rows.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== cols) {
      throw new ValidationError(`${field}: must be a rectangular array; row ${i} has ${Array.isArray(row) ? row.length : 'no'} entries, row 0 has ${cols}`, { field });
    }
    flat.push(...row);
  });
  return { flat, shape: [rows.length, cols] };
}
