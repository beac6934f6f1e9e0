// Splitting a forward_backward batch into requests the server accepts, and joining their outputs.
// Limits come from the server's client/config (`fwdbwd_max_chunk_len`, `fwdbwd_max_chunk_bytes_count`);
// sizes are estimated as the protobuf body will carry them, as the official SDK does.
import { chunkWireBytes } from './model-input.js';
import type { Datum } from './datum.js';
import { protocolCheck, type ForwardBackwardOutput } from './types.js';
import { mergeMetrics } from '@tinker-ts/protocol';

export interface ChunkLimits {
  /** Most datums in one request. */
  maxChunkLen: number;
  /** Most estimated body bytes in one request (a single larger datum still goes alone). */
  maxChunkBytes: number;
}

export interface DatumChunk {
  /** Index of the chunk's first datum in the whole batch. */
  start: number;
  data: Datum[];
  bytes: number;
}

/** Estimated protobuf bytes of one datum: int32 tokens, image bytes, tensor values, int64 CSR indices. */
export function estimateDatumBytes(datum: Datum): number {
  let n = 0;
  for (const c of datum.modelInput.chunks) n += chunkWireBytes(c);
  for (const t of Object.values(datum.lossFnInputs)) n += t.wireBytes();
  return n;
}

/** Consecutive chunks, each within both limits (a datum over the byte limit forms its own chunk). */
export function chunkData(data: readonly Datum[], limits: ChunkLimits): DatumChunk[] {
  const maxLen = Math.max(1, Math.floor(limits.maxChunkLen));
  const chunks: DatumChunk[] = [];
  let current: DatumChunk | undefined;
  data.forEach((datum, i) => {
    const bytes = estimateDatumBytes(datum);
    if (current && (current.bytes + bytes > limits.maxChunkBytes || current.data.length >= maxLen)) {
      chunks.push(current);
      current = undefined;
    }
    current ??= { start: i, data: [], bytes: 0 };
    current.data.push(datum);
    current.bytes += bytes;
  });
  if (current) chunks.push(current);
  return chunks;
}

/**
 * Submission order of a batch's chunks when they go in parallel: every chunk but the first,
 * then the first. The server handles requests in seq_id order, so when the first chunk lands
 * the rest are already queued and it can take the whole batch at once.
 */
export function submissionOrder(chunkCount: number, parallel: boolean): number[] {
  const order = Array.from({ length: chunkCount }, (_, i) => i);
  if (parallel && chunkCount > 1) order.push(order.shift()!);
  return order;
}

/** One output for the whole batch: per-datum outputs concatenated in datum order, metrics merged. */
export function combineChunkOutputs(outputs: readonly ForwardBackwardOutput[]): ForwardBackwardOutput {
  if (outputs.length === 0) return { lossFnOutputType: '', lossFnOutputs: [], metrics: {} };
  return {
    lossFnOutputType: outputs[0]!.lossFnOutputType,
    lossFnOutputs: outputs.flatMap((o) => o.lossFnOutputs),
    metrics: protocolCheck(() => mergeMetrics(outputs.map((o) => ({ metrics: o.metrics, numDatums: o.lossFnOutputs.length })))),
  };
}

