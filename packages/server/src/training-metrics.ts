/**
 * The server's record of training metrics: a forward, forward_backward or optim_step result's
 * metrics are stored with the result, in the same commit, so the dashboard and
 * `GET training_runs/{id}/metrics` show every step that completed. Recording never fails the
 * request: if the record cannot be written, the result is stored alone.
 */
import type { ServerContext } from './context.js';
import type { QueuedRequest } from './model-queue.js';
import type { MetricsKind } from './store/training-metrics-table.js';

/** The finite numeric entries of a result's `metrics` (anything else is not a metric). */
export function metricsOf(result: unknown): Record<string, number> {
  const raw = (result as { metrics?: unknown } | null)?.metrics;
  const out: Record<string, number> = {};
  if (typeof raw !== 'object' || raw === null) return out;
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value === 'number' && Number.isFinite(value)) out[name] = value;
  }
  return out;
}

/** A queued request's `finish`: completes the future and records its metrics in one transaction. */
export function finishRecordingMetrics(
  ctx: ServerContext,
  modelId: string,
  kind: Exclude<MetricsKind, 'reported'>,
  seqId: number | null,
): NonNullable<QueuedRequest['finish']> {
  return (requestId, result) => {
    const record = () =>
      ctx.store.trainingMetrics.insert({
        model_id: modelId,
        kind,
        request_id: requestId,
        seq_id: seqId,
        metrics: metricsOf(result),
        created_at: ctx.clock(),
      });
    try {
      ctx.futures.complete(requestId, result, record);
    } catch (err) {
      ctx.log(`could not record the metrics of ${requestId} (${String(err)}); storing its result alone`);
      ctx.futures.complete(requestId, result);
    }
  };
}
