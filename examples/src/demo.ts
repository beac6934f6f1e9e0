// `npm run demo`: LoRA fine-tuning of a built-in stand-in model on a small shipped task, through
// `new ServiceClient()` (an embedded local server; nothing to configure). Prints held-out NLL,
// format-match and accuracy of greedy replies before and after, then saves a checkpoint.
import { runIfMain } from './run-if-main.js';
import { ServiceClient, type Datum, type ServiceClientOptions, type Tokenizer, type TrainingClient } from '@tinker-ts/sdk';
import { conversationToDatum, promptTokens, readConversations, tokenCount, weightSum, type Conversation } from './conversations.js';
import { INTENT_HELDOUT_FILE, INTENT_TRAIN_FILE, expectedIntent, gradeReply } from './intent-task.js';
import { ProgressBar } from './progress-bar.js';
import { shuffled } from '@tinker-ts/cookbook';

export interface DemoOptions {
  /** Default "tinker-ts/tiny-qwen3": a random-init stand-in with the real Qwen3 tokenizer. */
  baseModel?: string;
  steps?: number;
  batchSize?: number;
  /** Peak learning rate, decayed linearly to 0. */
  learningRate?: number;
  rank?: number;
  /** Held-out prompts answered greedily for the format/accuracy metric (all are used for NLL). */
  sampledPrompts?: number;
  /** Default: the embedded local server (or TINKER_BASE_URL). */
  client?: ServiceClientOptions;
  /** Where the report goes; default stdout. */
  stream?: NodeJS.WriteStream;
}

export interface HeldOutMetrics {
  /** Mean negative log-likelihood per reply token. */
  nllPerToken: number;
  /** Share of greedy replies that are exactly {"intent": <known intent>}. */
  formatMatch: number;
  /** Share of greedy replies that name the right intent. */
  accuracy: number;
  replies: string[];
}

export interface DemoResult {
  before: HeldOutMetrics;
  after: HeldOutMetrics;
  checkpointPath: string;
  seconds: number;
}

const DEFAULTS = { baseModel: 'tinker-ts/tiny-qwen3', steps: 80, batchSize: 8, learningRate: 2e-3, rank: 16, sampledPrompts: 24 };
const SHOWN_EXAMPLES = 3;

export async function main(options: DemoOptions = {}): Promise<DemoResult> {
  const o = { ...DEFAULTS, ...options };
  const out = o.stream ?? process.stdout;
  const say = (line = '') => out.write(line + '\n');
  const started = Date.now();

  const train = readConversations(INTENT_TRAIN_FILE);
  const heldOut = readConversations(INTENT_HELDOUT_FILE);
  say(`tinker-ts demo: teach ${o.baseModel} to answer requests with {"intent": ...} JSON`);
  say(`  ${train.length} training conversations, ${heldOut.length} held-out (unseen cities, numbers, artists, dishes)`);
  if (o.baseModel.startsWith('tinker-ts/')) {
    say('  the model is a stand-in: a tiny random-weight decoder with the real tokenizer, so it starts out babbling');
  }

  const service = new ServiceClient(o.client ?? {});
  try {
    const training = await service.createLoraTrainingClient({ baseModel: o.baseModel, rank: o.rank, seed: 0 });
    const tokenizer = await training.getTokenizer();
    const trainData = train.map((c) => conversationToDatum(tokenizer, c.messages));
    const heldOutData = heldOut.map((c) => conversationToDatum(tokenizer, c.messages));
    const shown = heldOut.slice(0, Math.min(o.sampledPrompts, heldOut.length));

    const before = await evaluate(training, tokenizer, heldOutData, shown);
    report(say, 'before training', before, shown);

    say(`\ntraining: ${o.steps} steps of ${o.batchSize} conversations, LoRA rank ${o.rank}, lr ${o.learningRate} → 0`);
    const bar = new ProgressBar({ total: o.steps, stream: out });
    const trainStart = Date.now();
    let tokens = 0;
    let order: Datum[] = [];
    for (let step = 0; step < o.steps; step++) {
      if (order.length < o.batchSize) order = order.concat(shuffled(trainData, step));
      const batch = order.splice(0, o.batchSize);
      // Submit both, then wait: the optimizer step queues right behind the gradients.
      const fwdBwd = training.forwardBackward(batch, 'cross_entropy');
      const optim = training.optimStep({ learningRate: o.learningRate * (1 - step / o.steps), beta1: 0.9, beta2: 0.95 });
      const result = await fwdBwd;
      await optim;
      tokens += tokenCount(batch);
      const loss = (result.metrics['loss:sum'] ?? NaN) / weightSum(batch);
      bar.update({ step: step + 1, loss, tokensPerSecond: tokens / ((Date.now() - trainStart) / 1000) });
    }
    bar.finish();

    const after = await evaluate(training, tokenizer, heldOutData, shown);
    report(say, 'after training', after, shown);

    const saved = await training.saveState('demo-final');
    const seconds = (Date.now() - started) / 1000;
    say(`\ncheckpoint (weights + optimizer state): ${saved.path}`);
    say(`held-out NLL/token ${before.nllPerToken.toFixed(2)} → ${after.nllPerToken.toFixed(2)}, ` +
      `format match ${pct(before.formatMatch)} → ${pct(after.formatMatch)}, accuracy ${pct(before.accuracy)} → ${pct(after.accuracy)}; ${seconds.toFixed(0)} s in total`);
    return { before, after, checkpointPath: saved.path, seconds };
  } finally {
    await service.close();
  }
}

/** Held-out NLL from a forward pass, and greedy replies from the current weights. */
async function evaluate(training: TrainingClient, tokenizer: Tokenizer, heldOutData: Datum[], prompts: Conversation[]): Promise<HeldOutMetrics> {
  const forward = training.forward(heldOutData, 'cross_entropy');
  const sampler = await training.saveWeightsAndGetSamplingClient();
  const samples = prompts.map((c) =>
    sampler.sample({ prompt: promptTokens(tokenizer, c.messages), samplingParams: { maxTokens: 12, temperature: 0 } }),
  );
  const replies = (await Promise.all(samples)).map((r) => tokenizer.decode(r.sequences[0]!.tokens, { skipSpecialTokens: true }).trim());
  let formatOk = 0;
  let correct = 0;
  replies.forEach((reply, i) => {
    const g = gradeReply(reply, expectedIntent(prompts[i]!));
    if (g.formatOk) formatOk++;
    if (g.correct) correct++;
  });
  const nll = (await forward).metrics['loss:sum'] ?? NaN;
  return { nllPerToken: nll / weightSum(heldOutData), formatMatch: formatOk / replies.length, accuracy: correct / replies.length, replies };
}

function report(say: (line?: string) => void, title: string, m: HeldOutMetrics, prompts: Conversation[]): void {
  say(`\n${title}: held-out NLL/token ${m.nllPerToken.toFixed(3)}, format match ${pct(m.formatMatch)}, accuracy ${pct(m.accuracy)} (${m.replies.length} greedy replies)`);
  for (let i = 0; i < Math.min(SHOWN_EXAMPLES, prompts.length); i++) {
    const user = prompts[i]!.messages[prompts[i]!.messages.length - 2]!.content;
    say(`  ${JSON.stringify(user)} → ${clip(m.replies[i] ?? '', 60)}`);
  }
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

function clip(s: string, n: number): string {
  const oneLine = JSON.stringify(s);
  return oneLine.length > n ? oneLine.slice(0, n - 1) + '…' : oneLine;
}

runIfMain(import.meta.url, 'demo', () => main());
