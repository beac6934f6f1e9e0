// Supervised fine-tuning on chat conversations (the cookbook's supervised recipe and sl_loop):
// each conversation rendered by the model's renderer with TrainOnWhat weights, a linearly
// decaying learning rate, pipelined steps, and the NLL of a held-out set every few steps.
import { Datum, ValidationError, type ServiceClient, type Tokenizer } from '@tinker-ts/sdk';
import { getLr } from '../hyperparams.js';
import type { Message } from '../renderers/message.js';
import { getRenderer, recommendedRendererName } from '../renderers/registry.js';
import type { Renderer } from '../renderers/renderer.js';
import type { TrainOnWhat } from '../renderers/train-on-what.js';
import { readConversations } from './jsonl-data.js';
import { batchAt } from './shuffle.js';
import { runStepLoop, type StepLoopResult } from './step-loop.js';
import { openTrainingRun, type RecipeRunConfig } from './training-run.js';

export interface SupervisedConfig extends RecipeRunConfig {
  /** Training conversations, or `dataFile` (JSONL, one {"messages": [...]} per line). */
  conversations?: readonly Message[][];
  dataFile?: string | URL;
  /** Held-out conversations (or `evalFile`) whose NLL is measured every `evalEvery` steps and at the last step. */
  evalConversations?: readonly Message[][];
  evalFile?: string | URL;
  evalEvery?: number;
  /** Renderer name (default: the one recommended for the base model). */
  renderer?: string;
  trainOnWhat?: TrainOnWhat;
  batchSize?: number;
  /** Steps of the whole run (default: `epochs` passes over the data). */
  steps?: number;
  epochs?: number;
  /** Peak learning rate (default: getLr(baseModel)). */
  learningRate?: number;
  /** 'linear' decays to 0 at the last step (default); 'constant' keeps it. */
  lrSchedule?: 'linear' | 'constant';
  /** Tokens kept of each example. */
  maxLength?: number;
}

export interface SupervisedResult extends StepLoopResult {}

/** A rendered, weighted example as a next-token datum (reads tokens[:-1], predicts tokens[1:]). */
export function supervisedDatum(renderer: Renderer, messages: readonly Message[], trainOnWhat: TrainOnWhat, maxLength = 32768): Datum {
  const ex = renderer.buildSupervisedExample(messages, { trainOnWhat });
  const n = Math.min(ex.tokens.length, maxLength + 1);
  return Datum.fromTokens(ex.tokens.slice(0, n), ex.weights.slice(0, n));
}

/** Σ −logprob·weight / Σ weight over a batch (the cookbook's compute_mean_nll). */
export function meanNll(logprobs: readonly ArrayLike<number>[], data: readonly Datum[]): number {
  let nll = 0;
  let weight = 0;
  logprobs.forEach((lp, i) => {
    const w = data[i]!.lossFnInputs['weights']!.toArray();
    for (let k = 0; k < lp.length; k++) {
      nll -= lp[k]! * w[k]!;
      weight += w[k]!;
    }
  });
  return weight > 0 ? nll / weight : NaN;
}

export function inputTokens(data: readonly Datum[]): number {
  return data.reduce((n, d) => n + d.modelInput.length, 0);
}

/** The renderer a recipe uses: by name, or the one recommended for the model. */
export function recipeRenderer(name: string | undefined, model: string, tokenizer: Tokenizer): Renderer {
  return getRenderer(name ?? recommendedRendererName(model), tokenizer);
}

export function learningRateOf(config: { learningRate?: number; baseModel: string }): number {
  const lr = config.learningRate ?? getLr(config.baseModel);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new ValidationError(`learningRate: must be a positive number, got ${lr}`, { field: 'learningRate' });
  return lr;
}

export async function trainSupervised(service: ServiceClient, config: SupervisedConfig): Promise<SupervisedResult> {
  const conversations = config.conversations ?? (config.dataFile !== undefined ? readConversations(config.dataFile) : undefined);
  if (!conversations || conversations.length === 0) throw new ValidationError('supervised: give conversations or a dataFile with at least one', { field: 'dataFile' });
  const evalConversations = config.evalConversations ?? (config.evalFile !== undefined ? readConversations(config.evalFile) : []);
  const batchSize = config.batchSize ?? Math.min(128, conversations.length);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > conversations.length) {
    throw new ValidationError(`batchSize: must be an integer from 1 to the ${conversations.length} conversations, got ${batchSize}`, { field: 'batchSize' });
  }
  const batchesPerEpoch = Math.floor(conversations.length / batchSize);
  const totalSteps = config.steps ?? batchesPerEpoch * (config.epochs ?? 1);
  const peakLr = learningRateOf(config);
  const trainOnWhat = config.trainOnWhat ?? 'last_assistant_message';
  const evalEvery = config.evalEvery ?? 0;

  const run = await openTrainingRun(service, config);
  const info = await run.training.getInfo();
  const renderer = recipeRenderer(config.renderer, info.modelName ?? config.baseModel, await run.training.getTokenizer());
  const toDatum = (m: readonly Message[]) => supervisedDatum(renderer, m, trainOnWhat, config.maxLength);
  const evalData = evalConversations.map(toDatum);

  return runStepLoop({
    run,
    label: 'supervised',
    totalSteps,
    saveEvery: config.saveEvery ?? 0,
    progressKeys: ['train_mean_nll', 'eval/nll', 'learning_rate', 'tokens/train', 'cost/total_usd', 'time/step_s'],
    submit: async (step) => {
      const learningRate = config.lrSchedule === 'constant' ? peakLr : peakLr * Math.max(0, 1 - step / totalSteps);
      const batch = batchAt(conversations, batchSize, step, config.seed ?? 0).map(toDatum);
      const measureEval = evalData.length > 0 && ((evalEvery > 0 && step % evalEvery === 0) || step === totalSteps - 1);
      // The held-out NLL of the weights before this step's update.
      const evalPass = measureEval ? run.training.forward(evalData, 'cross_entropy') : undefined;
      const fwdBwd = run.training.forwardBackward(batch, 'cross_entropy');
      const optim = run.training.optimStep({ learningRate, beta1: 0.9, beta2: 0.95, eps: 1e-8 });
      const outcome = (async () => {
        const ev = evalPass ? await evalPass : undefined;
        const result = await fwdBwd;
        await optim;
        return {
          metrics: {
            train_mean_nll: meanNll(result.lossFnOutputs.map((x) => x['logprobs']!.toArray()), batch),
            learning_rate: learningRate,
            num_sequences: batch.length,
            ...(ev ? { 'eval/nll': meanNll(ev.lossFnOutputs.map((x) => x['logprobs']!.toArray()), evalData) } : {}),
          },
          tokens: { train: inputTokens(batch), prefill: ev ? inputTokens(evalData) : 0 },
        };
      })();
      return { outcome };
    },
  });
}
