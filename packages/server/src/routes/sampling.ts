/**
 * asample: sampling from a base model, from saved sampler weights (model_path), or through a
 * sampling session. Requests are not ordered among themselves; each sampling target has its
 * own queue so a long generation on one never holds up another's bookkeeping.
 */
import { contextLengthOf } from '../model-names.js';
import {
  checkSamplingParams,
  modelInputTokens,
  parse,
  sampleRequestSchema,
  type SampleRequest,
  type SampleResponse,
  type UntypedAPIFuture,
} from '@tinker-ts/protocol';
import {
  requireBaseModel,
  requireReadableCheckpoint,
  requireSamplingSession,
  type ServerContext,
} from '../context.js';
import type { EngineSampleSource } from '../engine-port.js';
import { noteEphemeralUse } from '../ephemeral-samplers.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import { checkSampleCost } from '../limits.js';
import { requestHash, requestIdFor } from '../futures.js';
import { parseCheckpointPath } from '../tinker-paths.js';
import { json, type Route, defineRoute } from '../router.js';
import { checkPromptScoring } from './sample-prompt-scoring.js';

interface ResolvedSource {
  source: EngineSampleSource;
  queueKey: string;
  /**
   * Throws (NotFoundError) once the caller may no longer read the weights: called on submission
   * and again when the request runs, so unpublishing or deleting them revokes access at once,
   * also through a sampling session opened while they were readable.
   */
  recheck: () => void;
}

function resolveSource(ctx: ServerContext, user: string, body: SampleRequest): ResolvedSource {
  if (body.sampling_session_id != null) {
    const s = requireSamplingSession(ctx, user, body.sampling_session_id);
    if (body.seq_id == null) {
      throw new BadRequestError('seq_id is required with sampling_session_id', { field: 'seq_id' });
    }
    if (s.ephemeral) {
      if (s.released_at !== null) {
        throw new NotFoundError(
          `the sampler weights of sampling session ${s.sampling_session_id} were deleted: ephemeral sampler weights last until ` +
            'their session ends or they go unused for a while; save new ones with save_weights_for_sampler',
        );
      }
      noteEphemeralUse(ctx, s);
    }
    const modelPath = s.model_path;
    const recheck = () => {
      // Ephemeral sampler weights are the session owner's own; saved ones may be someone else's.
      if (!modelPath || s.ephemeral) return;
      const p = parseCheckpointPath(modelPath, 'model_path');
      const row = ctx.store.checkpoints.get(p.runId, p.kind, p.name);
      if (!row) throw new NotFoundError(`sampler weights ${modelPath} of sampling session ${s.sampling_session_id} were deleted`);
      if ((row.owner !== user && !row.public) || (row.expires_at !== null && row.expires_at <= ctx.clock())) {
        throw new NotFoundError(
          `sampler weights ${modelPath} of sampling session ${s.sampling_session_id} are no longer readable (unpublished by their owner, or expired)`,
        );
      }
    };
    recheck();
    return {
      source: { baseModel: s.base_model, ...(s.sampler_dir ? { samplerDir: s.sampler_dir } : {}) },
      queueKey: s.sampling_session_id,
      recheck,
    };
  }
  if (body.model_path != null) {
    const modelPath = body.model_path;
    const ckpt = requireReadableCheckpoint(ctx, user, modelPath, 'sampler_weights', 'model_path');
    const run = ctx.store.models.get(ckpt.run_id);
    if (!run) throw new BadRequestError(`model_path ${modelPath} has no training run record`, { field: 'model_path' });
    return {
      source: { baseModel: run.base_model, samplerDir: ckpt.path },
      queueKey: `sampler:${modelPath}`,
      recheck: () => void requireReadableCheckpoint(ctx, user, modelPath, 'sampler_weights', 'model_path'),
    };
  }
  const base = requireBaseModel(ctx, body.base_model!).model_name;
  return { source: { baseModel: base }, queueKey: `base:${base}`, recheck: () => {} };
}

export function samplingRoutes(ctx: ServerContext): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/v1/asample',
      bodyLimit: 'data',
      body: (v) => parse(sampleRequestSchema, v),
      handler: ({ user, body }) => {
        const params = checkSamplingParams(body.sampling_params, 'sampling_params');
        const prompt = modelInputTokens(body.prompt, 'prompt');
        if (prompt.length === 0) throw new BadRequestError('prompt is empty', { field: 'prompt' });
        prompt.forEach((t, i) => {
          if (!Number.isInteger(t) || t < 0) {
            throw new BadRequestError(`token ids must be non-negative integers, got ${t}`, { field: `prompt.tokens[${i}]` });
          }
        });
        checkPromptScoring(body, prompt.length, ctx.limits);
        const { source, queueKey, recheck } = resolveSource(ctx, user, body);
        const numSamples = body.num_samples ?? 1;
        // Without max_tokens the engine samples up to the context length.
        const context = contextLengthOf(ctx, source.baseModel);
        checkSampleCost(numSamples, params.max_tokens ?? Math.max(0, context - prompt.length), ctx.limits, params.max_tokens === null);
        // Only sampling-session requests carry a seq_id that identifies them for dedup. The
        // SDK's unpickled sampling clients (subprocess sampling) number from k·10^9, beyond
        // what a JSON number keeps exactly: neighbours would collide, so those go undeduplicated.
        const exactSeqId = Number.isSafeInteger(body.seq_id) ? body.seq_id! : null;
        const seqId = body.sampling_session_id != null ? exactSeqId : null;
        const dedupKey = seqId !== null ? queueKey : null;
        const requestId = requestIdFor(dedupKey, seqId);
        const sampleSequenceIds = Array.from({ length: numSamples }, (_, i) => `${requestId}:${i}`);
        const { row, created } = ctx.futures.submit({
          request_id: requestId,
          owner: user,
          model_id: null,
          queue_key: dedupKey,
          seq_id: seqId,
          kind: 'sample',
          request_hash: requestHash('sample', body),
          ack_json: JSON.stringify({ sample_sequence_ids: sampleSequenceIds }),
        });
        if (created) {
          ctx.queues.open(queueKey, { ordered: false });
          ctx.queues.enqueue(queueKey, {
            requestId: row.request_id,
            seqId: null,
            kind: 'sample',
            execute: async (): Promise<SampleResponse> => {
              recheck();
              const res = await ctx.engine.sample(source, {
                prompt,
                num_samples: numSamples,
                sampling_params: {
                  max_tokens: params.max_tokens,
                  seed: params.seed,
                  stop: params.stop,
                  temperature: params.temperature,
                  top_k: params.top_k,
                  top_p: params.top_p,
                },
                prompt_logprobs: body.prompt_logprobs === true,
                topk_prompt_logprobs: body.topk_prompt_logprobs ?? 0,
                topk_sample_logprobs: body.topk_sample_logprobs ?? 0,
                target_prompt_logprobs: body.target_prompt_logprobs ?? null,
                prompt_alt_tokens_k: body.prompt_alt_tokens_k ?? 0,
                prompt_logprobs_last_n: body.prompt_logprobs_last_n ?? null,
              });
              return { ...res, type: 'sample' };
            },
          });
        }
        const ack = row.ack_json ? (JSON.parse(row.ack_json) as { sample_sequence_ids?: string[] }) : {};
        const future: UntypedAPIFuture = { request_id: row.request_id, sample_sequence_ids: ack.sample_sequence_ids ?? sampleSequenceIds };
        return json(future);
      },
    }),
  ];
}
