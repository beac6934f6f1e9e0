/**
 * Routes of training models (LoRA adapters on a base model): create, describe, unload. The
 * operations themselves are in domain/models.ts.
 */
import {
  LORA_CONFIG_DEFAULTS,
  checkOptimizerConfig,
  createModelRequestSchema,
  getInfoRequestSchema,
  parse,
  unloadModelRequestSchema,
  type CreateModelResponse,
  type GetInfoResponse,
} from '@tinker-ts/protocol';
import { requireBaseModel, requireModel, requireSession, type ServerContext } from '../context.js';
import { MAX_LORA_RANK, createModel, unloadModel } from '../domain/models.js';
import { BadRequestError } from '../errors.js';
import { json, type Route, defineRoute } from '../router.js';
import type { LoraSettingsRow } from '../store/rows.js';
import { sameBaseModel } from '../model-names.js';

export function modelRoutes(ctx: ServerContext): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/v1/create_model',
      body: (v) => parse(createModelRequestSchema, v),
      handler: ({ user, body }) => {
        requireSession(ctx, user, body.session_id);
        const base = requireBaseModel(ctx, body.base_model, 'base_model', 'train');
        if (base.deprecation) ctx.log(`create_model: ${base.deprecation}`);
        const lora = body.lora_config ?? { rank: 32 };
        if (lora.rank < 1 || lora.rank > MAX_LORA_RANK) {
          throw new BadRequestError(`lora_config.rank must be between 1 and ${MAX_LORA_RANK}, got ${lora.rank}`, {
            field: 'lora_config.rank',
          });
        }
        const settings: LoraSettingsRow = {
          lora_rank: lora.rank,
          lora_seed: lora.seed ?? null,
          train_mlp: lora.train_mlp ?? LORA_CONFIG_DEFAULTS.train_mlp,
          train_attn: lora.train_attn ?? LORA_CONFIG_DEFAULTS.train_attn,
          train_unembed: lora.train_unembed ?? LORA_CONFIG_DEFAULTS.train_unembed,
        };
        if (!settings.train_mlp && !settings.train_attn && !settings.train_unembed) {
          throw new BadRequestError('lora_config trains nothing: enable at least one of train_mlp, train_attn, train_unembed', {
            field: 'lora_config',
          });
        }
        const future = createModel(ctx, {
          user,
          sessionId: body.session_id,
          modelSeqId: body.model_seq_id,
          baseModel: body.base_model,
          lora: settings,
          optimizer: checkOptimizerConfig(body.optimizer_config),
          userMetadata: body.user_metadata ?? null,
          kind: 'create_model',
          payload: body,
          result: (modelId): CreateModelResponse => ({ model_id: modelId, type: 'create_model' }),
        });
        return json(future);
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/get_info',
      body: (v) => parse(getInfoRequestSchema, v),
      handler: ({ user, body }) => {
        const model = requireModel(ctx, user, body.model_id);
        const info = ctx.models.find((m) => sameBaseModel(m.model_name, model.base_model));
        const res: GetInfoResponse = {
          type: 'get_info',
          model_data: {
            arch: info?.family ?? null,
            model_name: model.base_model,
            // A stand-in without its own tokenizer names the one it uses, so clients that load
            // tokenizers by this id (the Python SDK) encode with the vocabulary the model has.
            tokenizer_id: info?.tokenizer_id ?? model.base_model,
          },
          model_id: model.model_id,
          is_lora: true,
          lora_rank: model.lora_rank,
          model_name: model.base_model,
        };
        return json(res);
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/unload_model',
      body: (v) => parse(unloadModelRequestSchema, v),
      handler: ({ user, body }) => json(unloadModel(ctx, requireModel(ctx, user, body.model_id), 'unloaded by the client')),
    }),
  ];
}
