/**
 * TensorData utilities: shape and structure checks, the dense view of a
 * sparse CSR tensor, and conversion to and from typed arrays.
 */

import { ValidationError } from './errors.js';
import type { TensorData, TensorDtype } from './types.js';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

export function isSparse(td: TensorData): boolean {
  return td.sparse_crow_indices != null || td.sparse_col_indices != null;
}

/** Dense shape of a tensor; a tensor without `shape` is 1-D. */
export function tensorShape(td: TensorData): number[] {
  return td.shape ?? [td.data.length];
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Structural validity: dense data matches its shape; a sparse tensor is 2-D
 * CSR with rows+1 non-decreasing row pointers from 0 to nnz, and column
 * indices in range and strictly increasing within each row (canonical CSR,
 * what torch produces).
 */
export function checkTensorStructure(td: TensorData, path = ''): void {
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (td.dtype !== 'int64' && td.dtype !== 'float32') {
    throw new ValidationError(`expected dtype "int64" or "float32", got ${JSON.stringify(td.dtype)}`, at('dtype'));
  }
  if (td.shape != null) {
    for (let i = 0; i < td.shape.length; i++) {
      const d = td.shape[i]!;
      if (!Number.isInteger(d) || d < 0) {
        throw new ValidationError(`expected a non-negative integer dimension, got ${d}`, at(`shape[${i}]`));
      }
    }
  }
  if (!isSparse(td)) {
    if (td.shape != null) {
      const numel = numelOf(td.shape);
      if (numel !== td.data.length) {
        throw new ValidationError(
          `shape [${td.shape.join(', ')}] needs ${numel} values, data has ${td.data.length}`,
          at('data'),
        );
      }
    }
    return;
  }
  const crow = td.sparse_crow_indices;
  const col = td.sparse_col_indices;
  if (crow == null || col == null) {
    throw new ValidationError(
      'sparse_crow_indices and sparse_col_indices must be set together',
      at(crow == null ? 'sparse_crow_indices' : 'sparse_col_indices'),
    );
  }
  if (td.shape == null || td.shape.length !== 2) {
    throw new ValidationError('a sparse CSR tensor needs a 2-D shape', at('shape'));
  }
  const [rows, cols] = td.shape as [number, number];
  const nnz = td.data.length;
  if (crow.length !== rows + 1) {
    throw new ValidationError(`expected ${rows + 1} row pointers (rows + 1), got ${crow.length}`, at('sparse_crow_indices'));
  }
  if (col.length !== nnz) {
    throw new ValidationError(`expected ${nnz} column indices (one per value), got ${col.length}`, at('sparse_col_indices'));
  }
  if (crow[0] !== 0) throw new ValidationError(`first row pointer must be 0, got ${crow[0]}`, at('sparse_crow_indices[0]'));
  if (crow[rows] !== nnz) {
    throw new ValidationError(`last row pointer must equal the value count ${nnz}, got ${crow[rows]}`, at(`sparse_crow_indices[${rows}]`));
  }
  for (let r = 0; r < rows; r++) {
    if (!Number.isInteger(crow[r + 1]) || crow[r + 1]! < crow[r]!) {
      throw new ValidationError(
        `row pointers must be non-decreasing integers, got ${crow[r]} then ${crow[r + 1]}`,
        at(`sparse_crow_indices[${r + 1}]`),
      );
    }
  }
  for (let r = 0; r < rows; r++) {
    const start = crow[r]!;
    const end = crow[r + 1]!;
    let prev = -1;
    for (let j = start; j < end; j++) {
      const c = col[j]!;
      if (!Number.isInteger(c) || c < 0 || c >= cols) {
        throw new ValidationError(`column index must be an integer in [0, ${cols}), got ${c}`, at(`sparse_col_indices[${j}]`));
      }
      if (c <= prev) {
        throw new ValidationError(`column indices must be strictly increasing within row ${r}`, at(`sparse_col_indices[${j}]`));
      }
      prev = c;
    }
  }
}

/** Flattened row-major dense values (expands CSR; zeros where absent). */
export function denseValues(td: TensorData): number[] {
  if (!isSparse(td)) return td.data;
  checkTensorStructure(td);
  const [rows, cols] = td.shape as [number, number];
  const out = new Array<number>(rows * cols).fill(0);
  const crow = td.sparse_crow_indices!;
  const col = td.sparse_col_indices!;
  for (let r = 0; r < rows; r++) {
    for (let j = crow[r]!; j < crow[r + 1]!; j++) out[r * cols + col[j]!] = td.data[j]!;
  }
  return out;
}

/** The same tensor in dense form with an explicit shape. */
export function toDense(td: TensorData): TensorData {
  return { data: denseValues(td), dtype: td.dtype, shape: tensorShape(td) };
}

export function toFloat32Array(td: TensorData): Float32Array {
  return Float32Array.from(denseValues(td));
}

/** int64 values as Int32Array (token ids); throws if a value does not fit. */
export function toInt32Array(td: TensorData, path = ''): Int32Array {
  const values = denseValues(td);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
      throw new ValidationError(`expected an int32-range integer, got ${v}`, `${path}[${i}]`);
    }
    out[i] = v;
  }
  return out;
}

export function toBigInt64Array(td: TensorData): BigInt64Array {
  const values = denseValues(td);
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = BigInt(Math.trunc(values[i]!));
  return out;
}

type NumericArray = ArrayLike<number> | readonly number[];

/** Build a dense TensorData; `shape` defaults to 1-D. */
export function tensorFrom(values: NumericArray, dtype: TensorDtype, shape?: readonly number[]): TensorData {
  const data = Array.from(values);
  const td: TensorData = { data, dtype, shape: shape ? [...shape] : [data.length] };
  checkTensorStructure(td);
  return td;
}

export function float32Tensor(values: NumericArray, shape?: readonly number[]): TensorData {
  // Round through float32 so the JSON carries exactly what the wire dtype holds.
  return tensorFrom(Float32Array.from(values as ArrayLike<number>), 'float32', shape);
}

export function int64Tensor(values: NumericArray | BigInt64Array, shape?: readonly number[]): TensorData {
  const nums = values instanceof BigInt64Array ? Array.from(values, (v) => Number(v)) : Array.from(values as ArrayLike<number>);
  return tensorFrom(nums, 'int64', shape);
}

/**
 * Encode a dense 2-D tensor as CSR when that is smaller, with the SDK's
 * rule: CSR costs (rows + 1) + 2·nnz numbers against rows·cols dense.
 */
export function maybeSparsify(td: TensorData): TensorData {
  const shape = tensorShape(td);
  if (isSparse(td) || shape.length !== 2) return td;
  const [rows, cols] = shape as [number, number];
  let nnz = 0;
  for (const v of td.data) if (v !== 0) nnz++;
  if (rows + 1 + 2 * nnz >= rows * cols) return td;
  const data: number[] = [];
  const colIdx: number[] = [];
  const crow: number[] = [0];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = td.data[r * cols + c]!;
      if (v !== 0) {
        data.push(v);
        colIdx.push(c);
      }
    }
    crow.push(data.length);
  }
  return { data, dtype: td.dtype, shape: [rows, cols], sparse_crow_indices: crow, sparse_col_indices: colIdx };
}
