// The supervised loop of sl-loop.ts written in the blocking style: every call returns an
// APIFuture, and `.result()` waits for it on the spot (the SDK's network runs on its own thread,
// so blocking here stalls nothing). No async/await in the loop; it reads like the Python SDK's.
//
//   node examples/dist/blocking-style.js
import { runIfMain } from './run-if-main.js';
import { ServiceClient, type ServiceClientOptions } from '@tinker-ts/sdk';
import { conversationToDatum, readConversations, weightSum } from './conversations.js';
import { INTENT_TRAIN_FILE } from './intent-task.js';
import { shuffled } from '@tinker-ts/cookbook';

export interface BlockingStyleOptions {
  baseModel?: string;
  steps?: number;
  batchSize?: number;
  learningRate?: number;
  client?: ServiceClientOptions;
  log?: (line: string) => void;
}

export interface BlockingStyleResult {
  /** Mean loss per completion token at each step. */
  losses: number[];
  statePath: string;
}

/** Runs the whole loop on the calling thread; returns once the checkpoint is saved. */
export function runBlocking(service: ServiceClient, options: BlockingStyleOptions = {}): BlockingStyleResult {
  const { baseModel = 'tinker-ts/tiny-qwen3', steps = 20, batchSize = 8, learningRate = 2e-3 } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const conversations = shuffled(readConversations(INTENT_TRAIN_FILE), 0);

  const training = service.createLoraTrainingClient({ baseModel, rank: 16 }).result();
  const tokenizer = training.getTokenizer().result();
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const start = (step * batchSize) % (conversations.length - batchSize + 1);
    const batch = conversations.slice(start, start + batchSize).map((c) => conversationToDatum(tokenizer, c.messages));
    // Submit both, then block on each: the same pipelining as with await.
    const fwdBwd = training.forwardBackward(batch, 'cross_entropy');
    const optim = training.optimStep({ learningRate: learningRate * (1 - step / steps) });
    const loss = (fwdBwd.result().metrics['loss:sum'] ?? NaN) / weightSum(batch);
    optim.result();
    losses.push(loss);
    log(`step ${step}: loss ${loss.toFixed(4)}`);
  }
  const statePath = training.saveState('blocking-final').result().path;
  log(`checkpoint: ${statePath}`);
  return { losses, statePath };
}

export async function main(options: BlockingStyleOptions = {}): Promise<BlockingStyleResult> {
  const service = new ServiceClient(options.client ?? {});
  try {
    return runBlocking(service, options);
  } finally {
    await service.close();
  }
}

runIfMain(import.meta.url, 'blocking-style', () => main());
