/**
 * Merging of per-chunk forward_backward results, exactly as the Python SDK's
 * chunked_fwdbwd_helpers does: every metric key is `<name>:<reduction>`;
 * `sum`/`min`/`max` fold plainly, `mean` and `slack` are weighted by each
 * chunk's datum count, `hash_unordered` combines as Python's tuple hash,
 * `unique` keeps every value under suffixed keys, and unknown reductions or
 * keys missing from some chunk are dropped.
 */

import { ValidationError } from './errors.js';
import type { ForwardBackwardOutput } from './types.js';

export type MetricReduction = 'mean' | 'sum' | 'min' | 'max' | 'slack' | 'hash_unordered' | 'unique';
export const METRIC_REDUCTIONS: readonly MetricReduction[] = ['mean', 'sum', 'min', 'max', 'slack', 'hash_unordered', 'unique'];

/** Split `name:reduction`; the SDK requires exactly one colon. */
export function splitMetricKey(key: string): { name: string; reduction: string } {
  const parts = key.split(':');
  if (parts.length !== 2) {
    throw new ValidationError(`metric key must have exactly one ":" (like "loss:sum"), got ${JSON.stringify(key)}`, `metrics.${key}`);
  }
  return { name: parts[0]!, reduction: parts[1]! };
}

function weightedMean(xs: number[], ws: number[], key: string): number {
  let sw = 0;
  let sxw = 0;
  for (let i = 0; i < xs.length; i++) {
    sw += ws[i]!;
    sxw += xs[i]! * ws[i]!;
  }
  // numpy.average raises here; say which metric it was.
  if (sw === 0) throw new ValidationError('cannot weight a mean by chunks that hold no datums', `metrics.${key}`);
  return sxw / sw;
}

const MASK64 = (1n << 64n) - 1n;
const XXPRIME_1 = 11400714785074694791n;
const XXPRIME_2 = 14029467366897019727n;
const XXPRIME_5 = 2870177450012600261n;
const MERSENNE_61 = (1n << 61n) - 1n;

/** CPython's hash() of an int (64-bit build). */
function pythonIntHash(x: bigint): bigint {
  const neg = x < 0n;
  let h = (neg ? -x : x) % MERSENNE_61;
  if (neg) h = -h;
  return h === -1n ? -2n : h;
}

/** CPython's hash() of a tuple of ints (xxHash-based, 3.8+). */
export function pythonTupleHash(items: readonly bigint[]): bigint {
  let acc = XXPRIME_5;
  for (const item of items) {
    const lane = BigInt.asUintN(64, pythonIntHash(item));
    acc = (acc + lane * XXPRIME_2) & MASK64;
    acc = ((acc << 31n) | (acc >> 33n)) & MASK64;
    acc = (acc * XXPRIME_1) & MASK64;
  }
  acc = (acc + (BigInt(items.length) ^ (XXPRIME_5 ^ 3527539n))) & MASK64;
  if (acc === MASK64) return 1546275796n;
  return BigInt.asIntN(64, acc);
}

/** `hash(tuple(sorted(int(x) for x in xs)))`. */
function hashUnordered(xs: number[]): number {
  const ints = xs.map((x) => BigInt(Math.trunc(x))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Number(pythonTupleHash(ints));
}

export interface MetricsChunk {
  metrics: Record<string, number>;
  /** Number of datums (loss_fn_outputs) this chunk covered: the weight of its means. */
  numDatums: number;
}

/** Reduce per-chunk metrics into one dictionary. */
export function mergeMetrics(chunks: readonly MetricsChunk[]): Record<string, number> {
  if (chunks.length === 0) return {};
  const weights = chunks.map((c) => c.numDatums);
  const out: Record<string, number> = {};
  for (const key of Object.keys(chunks[0]!.metrics)) {
    const { reduction } = splitMetricKey(key);
    if (!(METRIC_REDUCTIONS as readonly string[]).includes(reduction)) continue;
    if (!chunks.every((c) => key in c.metrics)) continue;
    const values = chunks.map((c) => c.metrics[key]!);
    switch (reduction as MetricReduction) {
      case 'sum':
        out[key] = values.reduce((a, b) => a + b, 0);
        break;
      case 'min':
        out[key] = Math.min(...values);
        break;
      case 'max':
        out[key] = Math.max(...values);
        break;
      case 'mean':
        out[key] = weightedMean(values, weights, key);
        break;
      case 'slack':
        out[key] = Math.max(...values) - weightedMean(values, weights, key);
        break;
      case 'hash_unordered':
        out[key] = hashUnordered(values);
        break;
      case 'unique':
        out[key] = values[0]!;
        values.slice(1).forEach((v, i) => {
          out[`${key}_${i + 1}`] = v;
        });
        break;
    }
  }
  return out;
}

/** Combine chunk results in order: outputs concatenated, metrics merged. */
export function combineForwardBackwardOutputs(results: readonly ForwardBackwardOutput[]): ForwardBackwardOutput {
  if (results.length === 0) return { loss_fn_output_type: '', loss_fn_outputs: [], metrics: {} };
  return {
    loss_fn_output_type: results[0]!.loss_fn_output_type,
    loss_fn_outputs: results.flatMap((r) => r.loss_fn_outputs),
    metrics: mergeMetrics(results.map((r) => ({ metrics: r.metrics, numDatums: r.loss_fn_outputs.length }))),
  };
}
