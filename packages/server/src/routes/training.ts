/**
 * Training steps: forward / forward_backward (protobuf bodies since SDK 0.25, JSON for older
 * clients) and optim_step. Input is checked completely at submission, so a bad datum gets a
 * 400 naming its field instead of a failed future later.
 */
import {
  CUSTOM_LOSS_FN,
  checkCustomLossData,
  checkData,
  checkLossFnConfig,
  checkOptimizerMatches,
  forwardBackwardRequestSchema,
  forwardRequestSchema,
  optimStepRequestSchema,
  parse,
  resolveOptimStepParams,
  type ForwardBackwardInput,
  type OptimStepResponse,
} from '@tinker-ts/protocol';
import { requireModel, type ServerContext } from '../context.js';
import { requireCustomLoss } from '../custom-losses.js';
import { BadRequestError } from '../errors.js';
import type { ModelRow } from '../store/rows.js';
import { checkTrainingCost } from '../limits.js';
import { json, type Route, defineRoute } from '../router.js';
import { numberedModelRoutes, submitModelRequest } from '../submit.js';
import { finishRecordingMetrics } from '../training-metrics.js';
import { decodeForwardBackwardBody } from '../wire-codec.js';

interface TrainingStep {
  model_id: string;
  seq_id: number | null;
  input: ForwardBackwardInput;
  forwardOnly: boolean;
}

function submitStep(ctx: ServerContext, user: string, step: TrainingStep) {
  const model = requireModel(ctx, user, step.model_id);
  const path = step.forwardOnly ? 'forward_input' : 'forward_backward_input';
  if (step.input.loss_fn === CUSTOM_LOSS_FN) return submitCustomLossStep(ctx, user, step, model, path);
  const lossFn = step.input.loss_fn;
  checkData(step.input.data, lossFn, `${path}.data`);
  checkTrainingCost(step.input.data, ctx.limits, `${path}.data`);
  const config = checkLossFnConfig(lossFn, step.input.loss_fn_config ?? null, `${path}.loss_fn_config`);
  const kind = step.forwardOnly ? 'forward' : 'forward_backward';
  return submitModelRequest(ctx, {
    user,
    model,
    kind,
    seqId: step.seq_id,
    payload: { model_id: step.model_id, seq_id: step.seq_id, input: step.input },
    execute: async () => {
      const out = await ctx.engine.forwardBackward(
        model.model_id,
        step.input.data,
        lossFn,
        Object.keys(config).length ? config : null,
        step.forwardOnly,
      );
      return out;
    },
    finish: finishRecordingMetrics(ctx, model.model_id, kind, step.seq_id),
  });
}

/** A step whose loss is one the session registered (create_custom_loss): evaluated in the same pass. */
function submitCustomLossStep(ctx: ServerContext, user: string, step: TrainingStep, model: ModelRow, path: string) {
  const loss = requireCustomLoss(ctx, model.session_id, step.input.loss_id, `${path}.loss_id`);
  if (step.input.loss_fn_config != null && Object.keys(step.input.loss_fn_config).length > 0) {
    throw new BadRequestError('a custom loss takes no loss_fn_config (its constants are in its graph)', { field: `${path}.loss_fn_config` });
  }
  if (step.input.data.length === 0) throw new BadRequestError('a batch needs at least one datum', { field: `${path}.data` });
  checkCustomLossData(step.input.data, loss.inputs, `${path}.data`);
  checkTrainingCost(step.input.data, ctx.limits, `${path}.data`);
  const kind = step.forwardOnly ? 'forward' : 'forward_backward';
  return submitModelRequest(ctx, {
    user,
    model,
    kind,
    seqId: step.seq_id,
    payload: { model_id: step.model_id, seq_id: step.seq_id, input: step.input },
    execute: () => ctx.engine.forwardBackward(model.model_id, step.input.data, CUSTOM_LOSS_FN, null, step.forwardOnly, loss.program),
    finish: finishRecordingMetrics(ctx, model.model_id, kind, step.seq_id),
  });
}

export function trainingRoutes(ctx: ServerContext): Route[] {
  return numberedModelRoutes(ctx, [
    defineRoute({
      method: 'POST',
      path: '/api/v1/forward_backward',
      bodyLimit: 'data',
      body: (v) => parse(forwardBackwardRequestSchema, v),
      protobuf: (bytes) => decodeForwardBackwardBody(bytes),
      handler: ({ user, body }) =>
        json(
          submitStep(ctx, user, {
            model_id: body.model_id,
            seq_id: body.seq_id ?? null,
            input: body.forward_backward_input,
            forwardOnly: body.forward_only === true,
          }),
        ),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/forward',
      bodyLimit: 'data',
      body: (v) => parse(forwardRequestSchema, v),
      handler: ({ user, body }) =>
        json(
          submitStep(ctx, user, {
            model_id: body.model_id,
            seq_id: body.seq_id ?? null,
            input: body.forward_input,
            forwardOnly: true,
          }),
        ),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/optim_step',
      body: (v) => parse(optimStepRequestSchema, v),
      handler: ({ user, body }) => {
        const model = requireModel(ctx, user, body.model_id);
        const resolved = resolveOptimStepParams(body);
        // The optimizer is fixed at creation: the other family's parameters are the caller's mistake.
        checkOptimizerMatches(model.optimizer, resolved, `model ${model.model_id}`);
        // AdamW keeps the payload it always had, so retries of 0.25 clients still match their first send.
        const payload = resolved.kind === 'adamw'
          ? { model_id: body.model_id, seq_id: body.seq_id ?? null, adam: resolved.params }
          : { model_id: body.model_id, seq_id: body.seq_id ?? null, dimuon: resolved.params };
        const future = submitModelRequest(ctx, {
          user,
          model,
          kind: 'optim_step',
          seqId: body.seq_id ?? null,
          payload,
          execute: async (): Promise<OptimStepResponse> => {
            const res = await ctx.engine.optimStep(model.model_id, resolved.params);
            return { metrics: res.metrics };
          },
          finish: finishRecordingMetrics(ctx, model.model_id, 'optim_step', body.seq_id ?? null),
        });
        return json(future);
      },
    }),
  ]);
}
