// Direct Preference Optimization with a loss written on the client: the cookbook's DPO recipe
// (`trainDpo`) hands each sequence's target-token logprobs to a DPO loss written with `Var` (the
// SDK differentiates it) through `forwardBackwardCustom`, against a frozen reference sampler.
// With `--server-side` the same loss is traced once (`traceCustomLoss`, over `Sym`s) and
// registered with the server, which evaluates it inside one forward_backward: one request a step.
// Here the pairs come from the intent data: chosen, the right intent; rejected, a wrong one.
//
//   node examples/dist/dpo-step.js [--server-side]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIfMain } from './run-if-main.js';
import { ServiceClient, type ServiceClientOptions } from '@tinker-ts/sdk';
import { trainDpo, type Message, type PreferencePair } from '@tinker-ts/cookbook';
import { readConversations } from './conversations.js';
import { INTENTS, INTENT_TRAIN_FILE, expectedIntent, intentReply } from './intent-task.js';

export interface DpoOptions {
  baseModel?: string;
  /** Preference pairs taken from the intent data (chosen: the right intent, rejected: a wrong one). */
  pairs?: number;
  steps?: number;
  /** DPO temperature: how far the policy may move from the reference. */
  beta?: number;
  learningRate?: number;
  rank?: number;
  /** Register the loss with the server (one request per step) instead of computing it here. */
  serverSide?: boolean;
  /** Log directory (default a fresh temporary one: every run starts over). */
  logPath?: string;
  client?: ServiceClientOptions;
  log?: (line: string) => void;
}

export interface DpoStepMetrics {
  step: number;
  loss: number;
  /** Mean β·((chosen − ref) − (rejected − ref)) before this step's update. */
  margin: number;
  /** Share of pairs whose chosen reply the policy prefers more than the reference does. */
  accuracy: number;
}

const DEFAULTS = { baseModel: 'tinker-ts/tiny-qwen3', pairs: 8, steps: 6, beta: 0.1, learningRate: 1e-3, rank: 16 };

export async function main(options: DpoOptions = {}): Promise<{ metrics: DpoStepMetrics[] }> {
  const o = { ...DEFAULTS, ...options };
  const log = o.log ?? ((line: string) => console.log(line));
  const pairs: PreferencePair[] = readConversations(INTENT_TRAIN_FILE)
    .slice(0, o.pairs)
    .map((c) => ({
      prompt: c.messages.slice(0, -1) as Message[],
      chosen: c.messages[c.messages.length - 1] as Message,
      rejected: { role: 'assistant', content: intentReply(wrongIntent(expectedIntent(c))) },
    }));

  const service = new ServiceClient(o.client ?? {});
  try {
    const run = await trainDpo(service, {
      baseModel: o.baseModel,
      logDir: o.logPath ?? mkdtempSync(join(tmpdir(), 'tinker-ts-dpo-step-')),
      pairs,
      batchSize: pairs.length,
      steps: o.steps,
      beta: o.beta,
      learningRate: o.learningRate,
      rank: o.rank,
      renderer: 'qwen3_disable_thinking',
      serverSideLoss: o.serverSide ?? false,
      log,
    });
    return {
      metrics: run.steps.map((m) => ({ step: m.step, loss: m['dpo/loss']!, margin: m['dpo/margin']!, accuracy: m['dpo/accuracy']! })),
    };
  } finally {
    await service.close();
  }
}

function wrongIntent(intent: string): string {
  const i = (INTENTS as readonly string[]).indexOf(intent);
  return INTENTS[(i + 1) % INTENTS.length]!;
}

runIfMain(import.meta.url, 'dpo-step', () => main({ serverSide: process.argv.includes('--server-side') }));
