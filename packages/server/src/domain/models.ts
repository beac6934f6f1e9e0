/**
 * Training models as the server's domain knows them: the id of a model, its engine LoRA settings,
 * and the two operations every path that makes or frees a model goes through (create_model,
 * load_weights creating a model, unload_model, a finished session, the idle reaper).
 * A model id is `<session_id>:train:<model_seq_id>`, the same id the official SDK derives on
 * its own when it creates a model through load_weights.
 */
import type { OptimizerKind, UnloadModelResponse, UntypedAPIFuture } from '@tinker-ts/protocol';
import type { ServerContext } from '../context.js';
import type { EngineLoraSettings } from '../engine-port.js';
import { forgetModelSamplers } from '../ephemeral-samplers.js';
import { BadRequestError } from '../errors.js';
import { requestHash, requestIdFor } from '../futures.js';
import type { LoraSettingsRow, ModelRow } from '../store/rows.js';
import { submitModelRequest } from '../submit.js';

/** Largest LoRA rank accepted (the official service offers up to 128 on small models). */
export const MAX_LORA_RANK = 256;

export function modelIdOf(sessionId: string, modelSeqId: number): string {
  return `${sessionId}:train:${modelSeqId}`;
}

export function engineLoraOf(row: LoraSettingsRow): EngineLoraSettings {
  return {
    rank: row.lora_rank,
    ...(row.lora_seed !== null ? { seed: row.lora_seed } : {}),
    train_mlp: row.train_mlp,
    train_attn: row.train_attn,
    train_unembed: row.train_unembed,
  };
}

export interface NewModel {
  user: string;
  sessionId: string;
  modelSeqId: number;
  baseModel: string;
  lora: LoraSettingsRow;
  /** Fixed for the model's life. */
  optimizer: OptimizerKind;
  userMetadata: Record<string, unknown> | null;
  /** The creating request (create_model, or load_weights creating the model). */
  kind: string;
  payload: unknown;
  /** Work done after the adapter exists (e.g. loading a checkpoint). */
  afterCreate?: (model: ModelRow) => Promise<void>;
  result: (modelId: string) => unknown;
}

/**
 * Creates a model as seq_id 0 of its own queue: the row and the future are committed in one
 * transaction, the adapter is created in the engine when the future runs, and the client's
 * requests (seq_id 1, 2, ...) queue up behind it. Resubmitting the same creation returns the
 * original future.
 */
export function createModel(ctx: ServerContext, m: NewModel): UntypedAPIFuture {
  const modelId = modelIdOf(m.sessionId, m.modelSeqId);
  const existingModel = ctx.store.models.get(modelId);
  if (existingModel && existingModel.owner !== m.user) {
    throw new BadRequestError(`model id ${modelId} is taken`);
  }
  const requestId = requestIdFor(modelId, 0);
  const { row, created } = ctx.store.transaction(() => {
    const r = ctx.futures.submit({
      request_id: requestId,
      owner: m.user,
      model_id: modelId,
      queue_key: modelId,
      seq_id: 0,
      kind: m.kind,
      request_hash: requestHash(m.kind, m.payload),
    });
    if (r.created) {
      if (existingModel) throw new BadRequestError(`model_seq_id ${m.modelSeqId} of session ${m.sessionId} is already used`);
      ctx.store.models.insert({
        model_id: modelId,
        owner: m.user,
        session_id: m.sessionId,
        model_seq_id: m.modelSeqId,
        base_model: m.baseModel,
        lora_rank: m.lora.lora_rank,
        lora_seed: m.lora.lora_seed,
        train_mlp: m.lora.train_mlp,
        train_attn: m.lora.train_attn,
        train_unembed: m.lora.train_unembed,
        optimizer: m.optimizer,
        user_metadata: m.userMetadata,
        state: 'creating',
        now: ctx.clock(),
      });
    }
    return r;
  });
  if (created) {
    ctx.queues.open(modelId, { ordered: true, firstSeq: 0 });
    ctx.queues.enqueue(modelId, {
      requestId: row.request_id,
      seqId: 0,
      kind: m.kind,
      execute: async () => {
        try {
          await ctx.engine.createAdapter(modelId, m.baseModel, engineLoraOf(m.lora), m.optimizer);
          if (m.afterCreate) await m.afterCreate(ctx.store.models.get(modelId)!);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          ctx.store.models.setState(modelId, 'failed', message);
          ctx.queues.close(modelId, `model ${modelId} could not be created: ${message}`);
          await ctx.engine.dropAdapter(modelId).catch(() => {});
          throw err;
        }
        ctx.store.models.setState(modelId, 'active');
        return m.result(modelId);
      },
    });
  }
  return { request_id: row.request_id, model_id: modelId };
}

/**
 * Frees a model's adapter after the requests already queued for it, as a future. A model that
 * holds nothing in memory any more answers with an already-completed future.
 */
export function unloadModel(ctx: ServerContext, model: ModelRow, reason: string): UntypedAPIFuture {
  const result: UnloadModelResponse = { model_id: model.model_id, type: 'unload_model' };
  if (model.state !== 'active' && model.state !== 'creating') {
    const requestId = requestIdFor(null, null);
    ctx.futures.submit({
      request_id: requestId,
      owner: model.owner,
      model_id: model.model_id,
      queue_key: null,
      seq_id: null,
      kind: 'unload_model',
      request_hash: requestHash('unload_model', { model_id: model.model_id }),
    });
    if (model.state === 'lost') ctx.store.models.setState(model.model_id, 'unloaded', reason);
    ctx.futures.complete(requestId, result);
    return { request_id: requestId, model_id: model.model_id };
  }
  return submitModelRequest(ctx, {
    user: model.owner,
    model,
    kind: 'unload_model',
    seqId: null,
    payload: { model_id: model.model_id },
    execute: async () => {
      await ctx.engine.dropAdapter(model.model_id);
      await forgetModelSamplers(ctx, model).catch((err) => ctx.log(`could not release sampler weights of ${model.model_id}: ${String(err)}`));
      ctx.store.models.setState(model.model_id, 'unloaded', reason);
      // Its ephemeral weights may have been deleted while it was still active (a session's end
      // releases them at once, unloads after queued work): the run's directory goes now.
      await ctx.ephemeral.pruneEmptyRun(model.model_id);
      ctx.queues.close(model.model_id, `model ${model.model_id} was unloaded (${reason}); create a new training client`);
      return result;
    },
  });
}
