// Supervised fine-tuning in one flat loop, shaped like the Tinker cookbook's sl_loop.py: JSONL
// conversations rendered with the model's chat template, pipelined forwardBackward + optimStep,
// a linear learning-rate decay, periodic checkpoints, and resumption from the latest one.
//
//   node examples/dist/sl-loop.js [data.jsonl] [logPath]
import { runIfMain } from './run-if-main.js';
import { ServiceClient, type Datum, type ServiceClientOptions, type TrainingClient } from '@tinker-ts/sdk';
import { lastResumableCheckpoint, saveCheckpoint } from './checkpoint-log.js';
import { conversationToDatum, readConversations, tokenCount } from './conversations.js';
import { INTENT_TRAIN_FILE } from './intent-task.js';
import { shuffled } from './shuffle.js';

export interface SlLoopOptions {
  baseModel?: string;
  /** JSONL conversations; default the shipped intent data. */
  dataFile?: string | URL;
  /** Checkpoint log directory; a rerun with the same path resumes. */
  logPath?: string;
  batchSize?: number;
  learningRate?: number;
  rank?: number;
  /** Save training state every this many steps (0 = only at the end). */
  saveEvery?: number;
  /** Steps to train in total (default one epoch); a resumed run continues up to it. */
  steps?: number;
  maxLength?: number;
  /** Seed of the LoRA initialisation (default random). */
  seed?: number;
  /** Also adapt the output projection (default true). */
  trainUnembed?: boolean;
  client?: ServiceClientOptions;
  /** Run on this client's session instead of a new one (which `client` configures); it is left open. */
  service?: ServiceClient;
  log?: (line: string) => void;
}

export interface SlStepMetrics {
  step: number;
  learningRate: number;
  /** Mean NLL per completion token of the batch, from the forward-backward's logprobs. */
  trainMeanNll: number;
  numSequences: number;
  numTokens: number;
  seconds: number;
}

export interface SlLoopResult {
  /** The step this run started at (> 0 after a resume). */
  startStep: number;
  metrics: SlStepMetrics[];
  finalStatePath: string;
  finalSamplerPath: string;
}

const DEFAULTS = {
  baseModel: 'tinker-ts/tiny-qwen3',
  logPath: '/tmp/tinker-ts-examples/sl-loop',
  batchSize: 8,
  learningRate: 2e-3,
  rank: 16,
  saveEvery: 20,
  maxLength: 4096,
};

export async function main(options: SlLoopOptions = {}): Promise<SlLoopResult> {
  const o = { ...DEFAULTS, ...options };
  const log = o.log ?? ((line: string) => console.log(line));
  const conversations = readConversations(o.dataFile ?? INTENT_TRAIN_FILE);
  const batchesPerEpoch = Math.floor(conversations.length / o.batchSize);
  if (batchesPerEpoch === 0) throw new Error(`need at least ${o.batchSize} conversations for one batch, got ${conversations.length}`);
  const totalSteps = o.steps ?? batchesPerEpoch;

  const service = o.service ?? new ServiceClient(o.client ?? {});
  try {
    const resume = lastResumableCheckpoint(o.logPath);
    let training: TrainingClient;
    let startStep = 0;
    if (resume?.statePath) {
      training = await service.createTrainingClientFromStateWithOptimizer(resume.statePath);
      startStep = resume.step;
      log(`resuming from step ${startStep} (${resume.statePath})`);
    } else {
      training = await service.createLoraTrainingClient({
        baseModel: o.baseModel,
        rank: o.rank,
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.trainUnembed !== undefined ? { trainUnembed: o.trainUnembed } : {}),
      });
    }
    const tokenizer = await training.getTokenizer();
    log(`training ${totalSteps} steps of ${o.batchSize} conversations`);

    const metrics: SlStepMetrics[] = [];
    for (let step = startStep; step < totalSteps; step++) {
      const t0 = Date.now();
      if (o.saveEvery > 0 && step % o.saveEvery === 0 && step > startStep) {
        await saveCheckpoint(training, { name: stepName(step), step, logPath: o.logPath, kind: 'state' });
      }
      const learningRate = o.learningRate * Math.max(0, 1 - step / totalSteps);
      const batch = batchAt(conversations.length, o.batchSize, batchesPerEpoch, step).map((i) =>
        conversationToDatum(tokenizer, conversations[i]!.messages, o.maxLength),
      );

      // Submit both before waiting on either: the optimizer step queues right behind the gradients.
      const fwdBwd = training.forwardBackward(batch, 'cross_entropy');
      const optim = training.optimStep({ learningRate, beta1: 0.9, beta2: 0.95, eps: 1e-8 });
      const result = await fwdBwd;
      await optim;

      const m: SlStepMetrics = {
        step,
        learningRate,
        trainMeanNll: meanNll(result.lossFnOutputs.map((x) => x['logprobs']!.toArray()), batch),
        numSequences: batch.length,
        numTokens: tokenCount(batch),
        seconds: (Date.now() - t0) / 1000,
      };
      metrics.push(m);
      log(`step ${step}: nll ${m.trainMeanNll.toFixed(4)}, lr ${learningRate.toExponential(2)}, ${m.numTokens} tokens, ${m.seconds.toFixed(2)} s`);
    }

    const final = await saveCheckpoint(training, { name: 'final', step: totalSteps, logPath: o.logPath, kind: 'both' });
    log(`final checkpoint: ${final.statePath} (sampler: ${final.samplerPath})`);
    return { startStep, metrics, finalStatePath: final.statePath!, finalSamplerPath: final.samplerPath! };
  } finally {
    if (!o.service) await service.close();
  }
}

/** Indices of the conversations in batch `step` (a fresh seeded shuffle each epoch). */
function batchAt(n: number, batchSize: number, batchesPerEpoch: number, step: number): number[] {
  const epoch = Math.floor(step / batchesPerEpoch);
  const order = shuffled([...Array(n).keys()], epoch);
  const start = (step % batchesPerEpoch) * batchSize;
  return order.slice(start, start + batchSize);
}

/** Σ −logprob·weight / Σ weight over the batch (the cookbook's compute_mean_nll). */
function meanNll(logprobs: number[][], batch: Datum[]): number {
  let nll = 0;
  let weight = 0;
  logprobs.forEach((lp, i) => {
    const w = batch[i]!.lossFnInputs['weights']!.toArray();
    for (let k = 0; k < lp.length; k++) {
      nll -= lp[k]! * w[k]!;
      weight += w[k]!;
    }
  });
  return weight > 0 ? nll / weight : NaN;
}

function stepName(step: number): string {
  return String(step).padStart(6, '0');
}

runIfMain(import.meta.url, 'sl-loop', () => {
  const [dataFile, logPath] = process.argv.slice(2);
  return main({ ...(dataFile ? { dataFile } : {}), ...(logPath ? { logPath } : {}) });
});
