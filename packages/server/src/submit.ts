/**
 * Acknowledging a model request: dedup a resubmission, reject a seq_id that can never run,
 * commit the future row, then queue the work. The answer `{request_id, model_id}` is only
 * sent after the row is committed, so an acknowledged request survives a crash (as a
 * failed-by-restart future, never as a silent loss).
 */
import type { UntypedAPIFuture } from '@tinker-ts/protocol';
import type { ServerContext } from './context.js';
import { requestHash, requestIdFor } from './futures.js';
import type { QueuedRequest } from './model-queue.js';
import type { Route } from './router.js';
import type { ModelRow } from './store/rows.js';

export interface ModelRequest {
  user: string;
  model: ModelRow;
  kind: string;
  seqId: number | null;
  /** What identifies the request for dedup (the validated body). */
  payload: unknown;
  execute: QueuedRequest['execute'];
  finish?: QueuedRequest['finish'];
}

/** Why a model cannot take requests any more, as the user should read it. */
export function notLiveMessage(ctx: ServerContext, model: ModelRow): string | null {
  switch (model.state) {
    case 'active':
    case 'creating':
      return null;
    case 'lost': {
      const last = ctx.store.checkpoints.lastOfRun(model.model_id, 'weights');
      const advice = last
        ? `its last checkpoint is tinker://${model.model_id}/weights/${last.name}: create a new training client from it ` +
          '(create_training_client_from_state_with_optimizer, or load_weights with optimizer=true as the first request of a new model)'
        : 'it has no saved checkpoint, so training must start again from a new model';
      return `model ${model.model_id} lost its in-memory training state (${model.state_reason ?? 'server restarted'}); ${advice}`;
    }
    case 'unloaded':
      return `model ${model.model_id} was unloaded${model.state_reason ? ` (${model.state_reason})` : ''}; create a new training client`;
    case 'failed':
      return `model ${model.model_id} could not be created: ${model.state_reason ?? 'unknown error'}`;
  }
}

/**
 * For a request refused with a 4xx (by validation or by its handler): if its body still names
 * one of the user's models and a seq_id, that seq_id is marked used, so later requests of the
 * model do not wait for it forever — clients number requests at call time and never resend a
 * refused seq_id.
 */
/** The routes of a model's numbered requests, as one group: each refused one still uses up its seq_id. */
export function numberedModelRoutes(ctx: ServerContext, routes: readonly Route[]): Route[] {
  return routes.map((route) => ({ ...route, onRefused: (user: string, raw: unknown) => skipRefusedSeq(ctx, user, raw) }));
}

export function skipRefusedSeq(ctx: ServerContext, user: string, raw: unknown): void {
  if (typeof raw !== 'object' || raw === null) return;
  const { model_id: modelId, seq_id: seqId } = raw as Record<string, unknown>;
  if (typeof modelId !== 'string' || typeof seqId !== 'number' || !Number.isSafeInteger(seqId) || seqId < 0) return;
  const model = ctx.store.models.get(modelId);
  if (!model || model.owner !== user) return;
  if (!ctx.futures.getBySeq(modelId, seqId)) ctx.queues.skip(modelId, seqId);
}

export function submitModelRequest(ctx: ServerContext, req: ModelRequest): UntypedAPIFuture {
  const modelId = req.model.model_id;
  const existing = req.seqId !== null ? ctx.futures.getBySeq(modelId, req.seqId) : null;
  const deadMessage = notLiveMessage(ctx, req.model);
  if (!existing && !deadMessage) ctx.queues.checkAcceptable(modelId, req.seqId);
  // One commit (one fsync) for the future row and the model's last_request_time.
  const { row, created } = ctx.store.transaction(() => {
    const r = ctx.futures.submit({
      request_id: requestIdFor(modelId, req.seqId),
      owner: req.user,
      model_id: modelId,
      queue_key: modelId,
      seq_id: req.seqId,
      kind: req.kind,
      request_hash: requestHash(req.kind, req.payload),
    });
    if (r.created) ctx.store.models.touch(modelId, ctx.clock());
    return r;
  });
  if (created) {
    if (deadMessage || !ctx.queues.has(modelId)) {
      ctx.futures.fail(row.request_id, deadMessage ?? `model ${modelId} is not accepting requests`, 'user');
    } else {
      ctx.queues.enqueue(modelId, {
        requestId: row.request_id,
        seqId: req.seqId,
        kind: req.kind,
        execute: req.execute,
        finish: req.finish,
      });
    }
  }
  return { request_id: row.request_id, model_id: modelId };
}
