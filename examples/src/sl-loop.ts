// Supervised fine-tuning, shaped like the Tinker cookbook's sl_loop.py: JSONL conversations
// rendered by the model's renderer, pipelined forwardBackward + optimStep, a linear
// learning-rate decay, periodic checkpoints, and resumption from the latest one. The loop itself
// is the cookbook's supervised recipe (`trainSupervised`); this file picks the example's data
// and defaults.
//
//   node examples/dist/sl-loop.js [data.jsonl] [logPath]
import { runIfMain } from './run-if-main.js';
import { ServiceClient, type ServiceClientOptions } from '@tinker-ts/sdk';
import { trainSupervised, type Message } from '@tinker-ts/cookbook';
import { readConversations } from './conversations.js';
import { INTENT_TRAIN_FILE } from './intent-task.js';

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
  const conversations = readConversations(o.dataFile ?? INTENT_TRAIN_FILE).map((c) => c.messages as Message[]);
  const service = o.service ?? new ServiceClient(o.client ?? {});
  try {
    const run = await trainSupervised(service, {
      baseModel: o.baseModel,
      logDir: o.logPath,
      conversations,
      // The examples' chat format: Qwen3 answering directly, without a thinking block.
      renderer: 'qwen3_disable_thinking',
      batchSize: o.batchSize,
      learningRate: o.learningRate,
      rank: o.rank,
      saveEvery: o.saveEvery,
      maxLength: o.maxLength,
      ...(o.steps !== undefined ? { steps: o.steps } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.trainUnembed !== undefined ? { lora: { trainUnembed: o.trainUnembed } } : {}),
      log,
    });
    return {
      startStep: run.startStep,
      metrics: run.steps.map((m) => ({
        step: m.step,
        learningRate: m['learning_rate']!,
        trainMeanNll: m['train_mean_nll']!,
        numSequences: m['num_sequences']!,
        numTokens: m['tokens/train']!,
        seconds: m['time/step_s']!,
      })),
      finalStatePath: run.final.statePath!,
      finalSamplerPath: run.final.samplerPath!,
    };
  } finally {
    if (!o.service) await service.close();
  }
}

runIfMain(import.meta.url, 'sl-loop', () => {
  const [dataFile, logPath] = process.argv.slice(2);
  return main({ ...(dataFile ? { dataFile } : {}), ...(logPath ? { logPath } : {}) });
});
