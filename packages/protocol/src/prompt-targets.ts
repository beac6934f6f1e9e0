/**
 * `SampleRequest.target_prompt_logprobs`: token ids whose logprobs to return at prompt positions.
 * An int64 tensor [len(prompt) - 1, K], dense or sparse CSR; cell [i, j] is scored at prompt
 * position i + 1 (position 0 has no preceding context), and -1 asks for nothing. The answer,
 * `SampleResponse.target_prompt_logprobs`, is float32 in the request's own shape and layout,
 * with 0 in every cell that asked for nothing (the newer official SDK's sampling client and its
 * tests define this; the server must see exactly len(prompt) - 1 rows and at least one id).
 */
import { ValidationError } from './errors.js';
import { checkTensorStructure, isSparse, tensorShape } from './tensor.js';
import type { TensorData } from './types.js';

/** The cells of a target tensor that ask for a logprob, in storage order. */
export interface PromptTargets {
  /** [len(prompt) - 1, K]. */
  shape: [number, number];
  /** The request's CSR row pointers and columns, kept for the answer; null when dense. */
  sparse: { crow: number[]; col: number[] } | null;
  /** Number of stored values (rows·K dense, nnz sparse). */
  stored: number;
  /** Storage index of each scored cell. */
  slots: number[];
  /** Logits row of each scored cell: row i predicts prompt token i + 1. */
  rows: number[];
  /** Token id of each scored cell. */
  ids: number[];
  /** Distinct token ids asked for (the measure the cost bound uses). */
  distinctIds: number;
}

/** Reads and checks a target tensor against a prompt of `promptLength` tokens. */
export function readPromptTargets(td: TensorData, promptLength: number, path = 'target_prompt_logprobs'): PromptTargets {
  const at = (k: string) => `${path}.${k}`;
  if (td.dtype !== 'int64') {
    throw new ValidationError(`must be an int64 tensor of token ids, got dtype ${JSON.stringify(td.dtype)}`, at('dtype'));
  }
  const shape = tensorShape(td);
  if (shape.length !== 2) {
    throw new ValidationError(`must be 2-D, [len(prompt) - 1, K], got shape [${shape.join(', ')}]`, at('shape'));
  }
  checkTensorStructure(td, path);
  const [rows, width] = shape as [number, number];
  if (rows !== promptLength - 1) {
    throw new ValidationError(
      `has ${rows} rows; a prompt of ${promptLength} tokens needs exactly ${promptLength - 1} (row i scores prompt position i + 1)`,
      at('shape'),
    );
  }
  const sparse = isSparse(td) ? { crow: td.sparse_crow_indices!, col: td.sparse_col_indices! } : null;
  const slots: number[] = [];
  const rowOf: number[] = [];
  const ids: number[] = [];
  const distinct = new Set<number>();
  let row = 0;
  for (let s = 0; s < td.data.length; s++) {
    if (sparse) while (s >= sparse.crow[row + 1]!) row++;
    else row = Math.floor(s / width);
    const id = td.data[s]!;
    if (id === -1) continue;
    if (!Number.isInteger(id) || id < 0) {
      throw new ValidationError(`token ids must be non-negative integers (-1 marks a cell to skip), got ${id}`, at(`data[${s}]`));
    }
    slots.push(s);
    rowOf.push(row);
    ids.push(id);
    distinct.add(id);
  }
  if (ids.length === 0) throw new ValidationError('names no token id (every cell is -1); send null instead', at('data'));
  return { shape: [rows, width], sparse, stored: td.data.length, slots, rows: rowOf, ids, distinctIds: distinct.size };
}

/** The answer tensor: `logprobs[c]` for scored cell c, 0 in the cells that asked for nothing. */
export function promptTargetLogprobs(targets: PromptTargets, logprobs: ArrayLike<number>): TensorData {
  if (logprobs.length !== targets.slots.length) {
    throw new RangeError(`expected ${targets.slots.length} logprobs (one per scored cell), got ${logprobs.length}`);
  }
  const data = new Array<number>(targets.stored).fill(0);
  // Through float32: the wire dtype holds no more.
  const f32 = Float32Array.from(logprobs);
  targets.slots.forEach((slot, c) => (data[slot] = f32[c]!));
  const td: TensorData = { data, dtype: 'float32', shape: [...targets.shape] };
  if (targets.sparse) {
    td.sparse_crow_indices = [...targets.sparse.crow];
    td.sparse_col_indices = [...targets.sparse.col];
  }
  return td;
}
