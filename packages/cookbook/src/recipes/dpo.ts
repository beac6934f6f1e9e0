// Direct Preference Optimization on preference pairs (the cookbook's preference/dpo recipe): the
// reference policy is a frozen sampling client (the base model, the initial state's weights, or
// a given sampler checkpoint) whose logprobs of each reply come from computeLogprobs; the DPO
// loss is computed on the client through forwardBackwardCustom (two passes a step), or, with
// `serverSideLoss`, traced once and evaluated by the server inside one forward_backward. Each step
// reports the implicit reward margin and the share of pairs the policy prefers the right way.
import {
  differentiable, dpoLoss, sequenceLogprob, Sym, TensorData, traceCustomLoss, ValidationError,
  type Datum, type DpoPair, type ForwardBackwardOutput, type SamplingClient, type ServiceClient, type TrainingClient,
} from '@tinker-ts/sdk';
import type { Message } from '../renderers/message.js';
import { saveCheckpoint, readCheckpoints } from './checkpoint-log.js';
import { readPreferencePairs, type PreferencePair } from './jsonl-data.js';
import { batchAt } from './shuffle.js';
import { runStepLoop, type StepLoopResult } from './step-loop.js';
import { inputTokens, learningRateOf, recipeRenderer, supervisedDatum } from './supervised.js';
import { openTrainingRun, type RecipeRunConfig } from './training-run.js';

export interface DpoConfig extends RecipeRunConfig {
  /** Preference pairs, or `dataFile` (JSONL, see readPreferencePairs). */
  pairs?: readonly PreferencePair[];
  dataFile?: string | URL;
  /** Pairs per step (default all, at most 64). */
  batchSize?: number;
  /** Default one pass over the pairs. */
  steps?: number;
  /** DPO temperature: how far the policy may move from the reference (default 0.1). */
  beta?: number;
  /** Default getLr(baseModel). */
  learningRate?: number;
  renderer?: string;
  /** Sampler weights of the reference policy (default: the base model, or the initial state's weights). */
  referenceModelPath?: string;
  /**
   * Register the DPO loss with the server as a traced graph (create_custom_loss) and send one
   * forward_backward a step, instead of computing it here between two passes. Needs a server
   * with server-side custom losses (0.38).
   */
  serverSideLoss?: boolean;
}

export interface DpoResult extends StepLoopResult {}

const REFERENCE_CHECKPOINT = 'reference';

export async function trainDpo(service: ServiceClient, config: DpoConfig): Promise<DpoResult> {
  const pairs = config.pairs ?? (config.dataFile !== undefined ? readPreferencePairs(config.dataFile) : undefined);
  if (!pairs || pairs.length === 0) throw new ValidationError('dpo: give pairs or a dataFile with at least one', { field: 'dataFile' });
  const batchSize = config.batchSize ?? Math.min(64, pairs.length);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > pairs.length) {
    throw new ValidationError(`batchSize: must be an integer from 1 to the ${pairs.length} pairs, got ${batchSize}`, { field: 'batchSize' });
  }
  const beta = config.beta ?? 0.1;
  if (!(beta > 0)) throw new ValidationError(`beta: must be positive, got ${beta}`, { field: 'beta' });
  const totalSteps = config.steps ?? Math.floor(pairs.length / batchSize);
  const learningRate = learningRateOf(config);

  const run = await openTrainingRun(service, config);
  const reference = await referencePolicy(service, config, run.training);
  const renderer = recipeRenderer(config.renderer, config.baseModel, await run.training.getTokenizer());
  const toDatum = (prompt: readonly Message[], reply: Message) => supervisedDatum(renderer, [...prompt, reply], 'last_assistant_message');
  // Every batch has batchSize pairs, so one traced loss serves every step.
  const serverLoss = config.serverSideLoss ? await run.training.createCustomLoss(tracedDpoLoss(2 * batchSize, beta)) : undefined;

  return runStepLoop({
    run,
    label: 'dpo',
    totalSteps,
    saveEvery: config.saveEvery ?? 0,
    progressKeys: ['dpo/loss', 'dpo/margin', 'dpo/accuracy', 'tokens/train', 'cost/total_usd', 'time/step_s'],
    submit: async (step) => {
      const batch = batchAt(pairs, batchSize, step, config.seed ?? 0);
      // Interleaved: data[2i] is pair i's chosen reply, data[2i + 1] its rejected one.
      const data: Datum[] = batch.flatMap((p) => [toDatum(p.prompt, p.chosen), toDatum(p.prompt, p.rejected)]);
      const weights = data.map((d) => d.lossFnInputs['weights']!.toArray());
      const refLogprobs = await Promise.all(data.map((d, i) => referenceSequenceLogprob(reference, d, weights[i]!)));

      const loss = differentiable((_data, logprobs) => {
        const dpoPairs: DpoPair[] = [];
        for (let i = 0; i < logprobs.length; i += 2) {
          dpoPairs.push({
            chosen: sequenceLogprob(logprobs[i]!, weights[i]!),
            rejected: sequenceLogprob(logprobs[i + 1]!, weights[i + 1]!),
            refChosen: refLogprobs[i]!,
            refRejected: refLogprobs[i + 1]!,
          });
        }
        const dpo = dpoLoss(dpoPairs, beta);
        return { loss: dpo.loss, metrics: { ...dpo.metrics, 'dpo_loss:mean': dpo.loss.value } };
      });
      // On the server the masks ride along as `weights`, the references as `ref_logprob`.
      const fwdBwd: PromiseLike<ForwardBackwardOutput> = serverLoss
        ? run.training.forwardBackward(data.map((d, i) => d.withLossFnInputs({ ref_logprob: TensorData.float32([refLogprobs[i]!]) })), serverLoss)
        : run.training.forwardBackwardCustom(data, loss);
      const optim = run.training.optimStep({ learningRate, beta1: 0.9, beta2: 0.95, eps: 1e-8 });
      const outcome = (async () => {
        const result = await fwdBwd;
        await optim;
        return {
          metrics: {
            // Of the weights before this step's update.
            'dpo/loss': result.metrics['dpo_loss:mean'] ?? NaN,
            'dpo/margin': result.metrics['dpo_margin:mean'] ?? NaN,
            'dpo/accuracy': result.metrics['dpo_accuracy:mean'] ?? NaN,
            learning_rate: learningRate,
            num_pairs: batch.length,
          },
          tokens: { train: inputTokens(data), prefill: data.reduce((n, d) => n + d.modelInput.length + 1, 0) },
        };
      })();
      return { outcome };
    },
  });
}

/** The DPO loss over `datums` interleaved chosen/rejected datums, as a graph the server evaluates. */
function tracedDpoLoss(datums: number, beta: number) {
  return traceCustomLoss({ name: 'dpo', datums, inputs: { weights: 1, ref_logprob: 0 } }, ({ logprobs, weights, ref_logprob }) => {
    const rel = (i: number) => logprobs.at(i).dot(weights.at(i)).sub(ref_logprob.at(i).sum());
    const margins: Sym[] = [];
    for (let i = 0; i < datums; i += 2) margins.push(rel(i).sub(rel(i + 1)).mul(beta));
    const loss = Sym.mean(margins.map((m) => m.logSigmoid().neg()));
    return { loss, metrics: { 'dpo_loss:mean': loss, 'dpo_margin:mean': Sym.mean(margins), 'dpo_accuracy:mean': Sym.mean(margins.map((m) => m.gt(0))) } };
  });
}

/**
 * The frozen reference: the given sampler weights; else, for a run from an initial state, that
 * state's weights saved once (and found again on resume); else the base model.
 */
async function referencePolicy(service: ServiceClient, config: DpoConfig, training: TrainingClient): Promise<SamplingClient> {
  if (config.referenceModelPath) return service.createSamplingClient({ modelPath: config.referenceModelPath });
  const saved = readCheckpoints(config.logDir).find((c) => c.name === REFERENCE_CHECKPOINT && c.samplerPath);
  if (saved) return service.createSamplingClient({ modelPath: saved.samplerPath! });
  if (config.initialStatePath) {
    const record = await saveCheckpoint(training, { name: REFERENCE_CHECKPOINT, step: 0, logDir: config.logDir, kind: 'sampler' });
    return service.createSamplingClient({ modelPath: record.samplerPath! });
  }
  return service.createSamplingClient({ baseModel: config.baseModel });
}

/** Σ weight · logprob of the datum's targets under the reference (computeLogprobs of the whole sequence). */
async function referenceSequenceLogprob(reference: SamplingClient, d: Datum, weights: ArrayLike<number>): Promise<number> {
  const targets = d.lossFnInputs['target_tokens']!.toArray();
  const input = d.modelInput.toInts();
  const sequence = [...input, targets[targets.length - 1]!];
  const lp = await reference.computeLogprobs(sequence);
  let sum = 0;
  // lp[k + 1] is the logprob of sequence[k + 1] = targets[k].
  for (let k = 0; k < weights.length; k++) if (weights[k]! > 0) sum += weights[k]! * (lp[k + 1] ?? 0);
  return sum;
}
