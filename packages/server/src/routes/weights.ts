/**
 * Checkpoints: save_weights (training state incl. optimizer), save_weights_for_sampler (PEFT
 * adapter, named or behind an ephemeral sampling session), load_weights (as a model's first
 * request, or creating the model), weights_info and copy_weights.
 *
 * A save writes to a temporary directory, fsyncs, renames into place, and only then commits
 * the checkpoint record together with the future's result.
 */
import { sameBaseModel } from '../model-names.js';
import {
  checkOptimizerConfig,
  copyWeightsRequestSchema,
  loadWeightsRequestSchema,
  optimizerConfigOf,
  optimizerName,
  parse,
  saveWeightsForSamplerRequestSchema,
  saveWeightsRequestSchema,
  weightsInfoRequestSchema,
  type CopyWeightsResponse,
  type LoadWeightsResponse,
  type OptimizerKind,
  type SaveWeightsForSamplerResponseInternal,
  type SaveWeightsResponse,
  type WeightsInfoResponse,
} from '@tinker-ts/protocol';
import {
  requireBaseModel,
  requireModel,
  requireReadableCheckpoint,
  requireSession,
  type ServerContext,
} from '../context.js';
import { BadRequestError, RequestFailure, UnauthorizedError } from '../errors.js';
import { json, type Route, defineRoute } from '../router.js';
import type { StagedCheckpoint } from '../checkpoint-files.js';
import type { CheckpointKind, CheckpointRow, ModelRow } from '../store/rows.js';
import { numberedModelRoutes, submitModelRequest } from '../submit.js';
import { checkCheckpointName, formatCheckpointPath } from '../tinker-paths.js';
import { createModel, modelIdOf } from '../domain/models.js';
import { samplingSessionIdOf } from '../domain/sessions.js';

interface SaveSpec {
  user: string;
  model: ModelRow;
  kind: CheckpointKind;
  name: string;
  overwrite: boolean;
  ttlSeconds: number | null;
  userMetadata: Record<string, string> | null;
  seqId: number | null;
  payload: unknown;
  result: (path: string) => unknown;
}

function submitSave(ctx: ServerContext, s: SaveSpec) {
  const modelId = s.model.model_id;
  const tinkerPath = formatCheckpointPath({ runId: modelId, kind: s.kind, name: s.name });
  let saved: { row: CheckpointRow; files: StagedCheckpoint } | null = null;
  return submitModelRequest(ctx, {
    user: s.user,
    model: s.model,
    kind: s.kind === 'weights' ? 'save_weights' : 'save_weights_for_sampler',
    seqId: s.seqId,
    payload: s.payload,
    execute: async () => {
      if (!s.overwrite && ctx.store.checkpoints.get(modelId, s.kind, s.name)) {
        throw new RequestFailure(`checkpoint ${tinkerPath} already exists; pass overwrite=true or choose another name`);
      }
      const files = await ctx.checkpoints.writeStaged(
        modelId,
        s.kind,
        s.name,
        (tmp) =>
          s.kind === 'weights' ? ctx.engine.saveState(modelId, tmp, true) : ctx.engine.saveSamplerWeights(modelId, tmp),
        { overwrite: true },
      );
      const now = ctx.clock();
      const row: CheckpointRow = {
        run_id: modelId,
        kind: s.kind,
        name: s.name,
        owner: s.user,
        path: files.dir,
        size_bytes: files.sizeBytes,
        created_at: now,
        expires_at: s.ttlSeconds !== null ? now + s.ttlSeconds * 1000 : null,
        public: false,
        user_metadata: s.userMetadata,
      };
      saved = { row, files };
      return s.result(tinkerPath);
    },
    // The record and the result commit together: an acknowledged save is always listed. If the
    // commit fails (a full disk), the files go back to what the records describe and the future
    // fails: no checkpoint is acknowledged, listed or on disk under that name that is not both.
    finish: async (requestId, result) => {
      const { row, files } = saved!;
      try {
        ctx.futures.complete(requestId, result, () => ctx.store.checkpoints.upsert(row));
      } catch (err) {
        await files.undo().catch((e) => ctx.log(`could not remove the unrecorded checkpoint ${row.path}: ${String(e)}`));
        throw new RequestFailure(`checkpoint ${tinkerPath} could not be recorded (${errorText(err)}); it was not saved`, 'server');
      }
      await files.keep().catch((e) => ctx.log(`could not delete the replaced copy of ${row.path}: ${String(e)}`));
      if (s.kind === 'weights') await ctx.engine.noteCheckpoint?.(modelId, row.path);
    },
  });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function defaultCheckpointName(ctx: ServerContext, seqId: number | null): string {
  const stamp = new Date(ctx.clock()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return seqId !== null ? `ckpt-${stamp}-seq${seqId}` : `ckpt-${stamp}`;
}

export function weightsRoutes(ctx: ServerContext): Route[] {
  return [
    ...numberedModelRoutes(ctx, [
      defineRoute({
        method: 'POST',
        path: '/api/v1/save_weights',
        body: (v) => parse(saveWeightsRequestSchema, v),
        handler: ({ user, body }) => {
          const model = requireModel(ctx, user, body.model_id);
          const seqId = body.seq_id ?? null;
          const name = checkCheckpointName(body.path ?? defaultCheckpointName(ctx, seqId), 'path');
          const future = submitSave(ctx, {
            user,
            model,
            kind: 'weights',
            name,
            overwrite: body.overwrite === true,
            ttlSeconds: body.ttl_seconds ?? null,
            userMetadata: body.user_metadata ?? null,
            seqId,
            payload: body,
            result: (path): SaveWeightsResponse => ({ path, type: 'save_weights' }),
          });
          return json(future);
        },
      }),
      defineRoute({
        method: 'POST',
        path: '/api/v1/save_weights_for_sampler',
        body: (v) => parse(saveWeightsForSamplerRequestSchema, v),
        handler: ({ user, body }) => {
          const model = requireModel(ctx, user, body.model_id);
          const seqId = body.seq_id ?? null;
          if (body.path != null) {
            const name = checkCheckpointName(body.path, 'path');
            const future = submitSave(ctx, {
              user,
              model,
              kind: 'sampler_weights',
              name,
              overwrite: true,
              ttlSeconds: body.ttl_seconds ?? null,
              userMetadata: body.user_metadata ?? null,
              seqId,
              payload: body,
              result: (path): SaveWeightsForSamplerResponseInternal => ({ path, type: 'save_weights_for_sampler' }),
            });
            return json(future);
          }
          if (body.sampling_session_seq_id == null) {
            throw new BadRequestError('save_weights_for_sampler needs a path (a checkpoint name) or a sampling_session_seq_id', {
              field: 'path',
            });
          }
          // Ephemeral: a snapshot of the adapter behind a new sampling session, not a listed checkpoint.
          const samplingSessionId = samplingSessionIdOf(model.session_id, body.sampling_session_seq_id);
          const future = submitModelRequest(ctx, {
            user,
            model,
            kind: 'save_weights_for_sampler',
            seqId,
            payload: body,
            execute: async () => {
              if (ctx.store.samplingSessions.get(samplingSessionId)) {
                throw new RequestFailure(`sampling session ${samplingSessionId} already exists`);
              }
              const files = await ctx.ephemeral.writeStaged(
                model.model_id,
                'sampler_weights',
                `session-${body.sampling_session_seq_id}`,
                (tmp) => ctx.engine.saveSamplerWeights(model.model_id, tmp),
                { overwrite: true },
              );
              const dir = files.dir;
              try {
                ctx.store.samplingSessions.insert({
                  sampling_session_id: samplingSessionId,
                  owner: user,
                  session_id: model.session_id,
                  seq_id: body.sampling_session_seq_id ?? null,
                  base_model: model.base_model,
                  model_path: null,
                  sampler_dir: dir,
                  ephemeral: true,
                  now: ctx.clock(),
                });
              } catch (err) {
                await files.undo().catch(() => {});
                throw new RequestFailure(`sampling session ${samplingSessionId} could not be recorded (${errorText(err)})`, 'server');
              }
              await files.keep();
              const res: SaveWeightsForSamplerResponseInternal = {
                path: null,
                sampling_session_id: samplingSessionId,
                type: 'save_weights_for_sampler',
              };
              return res;
            },
          });
          return json(future);
        },
      }),
      defineRoute({
        method: 'POST',
        path: '/api/v1/load_weights',
        body: (v) => parse(loadWeightsRequestSchema, v),
        handler: ({ user, body }) => {
          const reader = checkpointReader(ctx, user, body.weights_access_token);
          const ckpt = requireReadableCheckpoint(ctx, reader, body.path, 'weights', 'path');
          const source = ctx.store.models.get(ckpt.run_id);
          if (!source) throw new BadRequestError(`checkpoint ${body.path} has no training run record`, { field: 'path' });
          const result = (modelId: string, optimizer: OptimizerKind): LoadWeightsResponse => ({
            path: body.path, model_id: modelId, type: 'load_weights', optimizer_config: optimizerConfigOf(optimizer),
          });

          if (body.session_id != null) {
            // Create-via-load: this load is the new model's creation (its seq_id 0).
            requireSession(ctx, user, body.session_id);
            const baseModel = body.base_model ?? source.base_model;
            requireBaseModel(ctx, baseModel, 'base_model', 'train');
            if (!sameBaseModel(baseModel, source.base_model)) {
              throw new BadRequestError(
                `base_model ${baseModel} is not compatible with ${body.path}, which was trained on ${source.base_model}`,
                { field: 'base_model' },
              );
            }
            // With the optimizer state the new model takes the checkpoint's optimizer ("identity
            // retained by full-state resume"); an explicit optimizer_config must agree with it.
            const optimizer = body.optimizer_config != null ? checkOptimizerConfig(body.optimizer_config) : body.optimizer ? source.optimizer : 'adamw';
            if (body.optimizer) requireSameOptimizer(body.path, source.optimizer, optimizer, 'optimizer_config', 'the optimizer_config asks for');
            const future = createModel(ctx, {
              user,
              sessionId: body.session_id,
              modelSeqId: body.model_seq_id!,
              baseModel,
              lora: source,
              optimizer,
              userMetadata: body.user_metadata ?? null,
              kind: 'load_weights',
              payload: body,
              afterCreate: async (model) => {
                // Resolved again when the load runs: it may have expired or been deleted meanwhile.
                // Resolved again when the load runs: it may have expired or been deleted meanwhile.
              const current = requireReadableCheckpoint(ctx, reader, body.path, 'weights', 'path');
                await ctx.engine.loadState(model.model_id, current.path, body.optimizer);
              },
              result: (modelId) => result(modelId, optimizer),
            });
            return json(future);
          }

          const model = requireModel(ctx, user, body.model_id!);
          const seqId = body.seq_id ?? null;
          const existing = seqId !== null ? ctx.futures.getBySeq(model.model_id, seqId) : null;
          if (!existing) {
            const maxSeq = ctx.store.futures.maxSeq(model.model_id) ?? 0;
            if (maxSeq > 0 || (seqId !== null && seqId !== 1)) {
              throw new BadRequestError(
                `load_weights is only allowed as a model's first request (seq_id 1); model ${model.model_id} already ` +
                  `${maxSeq > 0 ? `has requests up to seq_id ${maxSeq}` : `expects seq_id 1, got ${seqId}`}. ` +
                  'Create a new training client from the checkpoint instead.',
                { field: 'seq_id' },
              );
            }
          }
          if (source.lora_rank !== model.lora_rank || source.base_model !== model.base_model) {
            throw new BadRequestError(
              `checkpoint ${body.path} (base ${source.base_model}, LoRA rank ${source.lora_rank}) does not fit model ` +
                `${model.model_id} (base ${model.base_model}, LoRA rank ${model.lora_rank})`,
              { field: 'path' },
            );
          }
          if (body.optimizer) requireSameOptimizer(body.path, source.optimizer, model.optimizer, 'optimizer', `model ${model.model_id} was created with`);
          const future = submitModelRequest(ctx, {
            user,
            model,
            kind: 'load_weights',
            seqId: seqId ?? 1,
            payload: body,
            execute: async () => {
              // Resolved again when the load runs: it may have expired or been deleted meanwhile.
              const current = requireReadableCheckpoint(ctx, reader, body.path, 'weights', 'path');
              await ctx.engine.loadState(model.model_id, current.path, body.optimizer);
              return result(model.model_id, model.optimizer);
            },
          });
          return json(future);
        },
      }),
    ]),
    defineRoute({
      method: 'POST',
      path: '/api/v1/weights_info',
      body: (v) => parse(weightsInfoRequestSchema, v),
      handler: ({ user, body }) => {
        const ckpt = requireReadableCheckpoint(ctx, user, body.tinker_path, null, 'tinker_path');
        const run = ctx.store.models.get(ckpt.run_id);
        if (!run) throw new BadRequestError(`checkpoint ${body.tinker_path} has no training run record`, { field: 'tinker_path' });
        const res: WeightsInfoResponse = {
          base_model: run.base_model,
          is_lora: true,
          lora_rank: run.lora_rank,
          train_unembed: run.train_unembed,
          train_mlp: run.train_mlp,
          train_attn: run.train_attn,
          // Absent means AdamW (as for runs made before the choice), so AdamW answers stay as they were.
          ...(run.optimizer !== 'adamw' ? { optimizer_config: optimizerConfigOf(run.optimizer) } : {}),
        };
        return json(res);
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/copy_weights',
      body: (v) => parse(copyWeightsRequestSchema, v),
      handler: async ({ user, body }) => {
        requireSession(ctx, user, body.session_id);
        const ckpt = requireReadableCheckpoint(ctx, user, body.source_path, null, 'source_path');
        const source = ctx.store.models.get(ckpt.run_id);
        if (!source) throw new BadRequestError(`checkpoint ${body.source_path} has no training run record`, { field: 'source_path' });
        const runId = modelIdOf(body.session_id, body.model_seq_id);
        const tinkerPath = formatCheckpointPath({ runId, kind: ckpt.kind, name: ckpt.name });
        const existingRun = ctx.store.models.get(runId);
        if (existingRun) {
          if (existingRun.owner === user && ctx.store.checkpoints.get(runId, ckpt.kind, ckpt.name)) {
            return json({ tinker_path: tinkerPath } satisfies CopyWeightsResponse);
          }
          throw new BadRequestError(`model_seq_id ${body.model_seq_id} of session ${body.session_id} is already used`, {
            field: 'model_seq_id',
          });
        }
        const { dir, sizeBytes } = await ctx.checkpoints.copyInto(ckpt.path, runId, ckpt.kind, ckpt.name);
        const now = ctx.clock();
        ctx.store.transaction(() => {
          ctx.store.models.insert({
            model_id: runId,
            owner: user,
            session_id: body.session_id,
            model_seq_id: body.model_seq_id,
            base_model: source.base_model,
            lora_rank: source.lora_rank,
            lora_seed: source.lora_seed,
            train_mlp: source.train_mlp,
            train_attn: source.train_attn,
            train_unembed: source.train_unembed,
            optimizer: source.optimizer,
            user_metadata: null,
            state: 'unloaded',
            now,
          });
          ctx.store.models.setState(runId, 'unloaded', `holds a copy of ${body.source_path}; load it into a new training client to train`);
          ctx.store.checkpoints.upsert({
            run_id: runId,
            kind: ckpt.kind,
            name: ckpt.name,
            owner: user,
            path: dir,
            size_bytes: sizeBytes,
            created_at: now,
            expires_at: body.ttl_seconds != null ? now + body.ttl_seconds * 1000 : null,
            public: false,
            user_metadata: ckpt.user_metadata,
          });
        });
        return json({ tinker_path: tinkerPath } satisfies CopyWeightsResponse);
      },
    }),
  ];
}

/**
 * A load with the optimizer state keeps the optimizer that state belongs to: Dimuon momentum
 * cannot continue as AdamW moments, nor the reverse.
 */
function requireSameOptimizer(path: string, saved: OptimizerKind, wanted: OptimizerKind, field: string, whose: string): void {
  if (saved === wanted) return;
  throw new BadRequestError(
    `checkpoint ${path} holds ${optimizerName(saved)} optimizer state, but ${whose} the ${optimizerName(wanted)} optimizer; ` +
      `load only its weights (load_state), or use a model created with optimizer_config {"type": "${saved}"${saved === 'dimuon' ? ', "version": 1' : ''}}`,
    { field },
  );
}

/**
 * Whose checkpoints a load may read: the caller's, or — with `weights_access_token`, another
 * account's API key (the SDK's create_training_client_from_state(..., weights_access_token)) —
 * that account's. The new model still belongs to the caller.
 */
function checkpointReader(ctx: ServerContext, user: string, token: string | null | undefined): string {
  if (token == null) return user;
  const owner = ctx.authenticate?.(token) ?? null;
  if (owner === null) throw new UnauthorizedError('weights_access_token is not an API key this server accepts');
  return owner;
}

