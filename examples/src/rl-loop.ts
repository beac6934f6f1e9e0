// Reinforcement learning in one flat loop, shaped like the Tinker cookbook's rl_loop.py (GRPO
// style): each iteration samples a group of replies per prompt from the current weights, scores
// them with a reward function, centres rewards within each group to get advantages, and trains
// with the `importance_sampling` loss on the sampler's own logprobs.
//
//   node examples/dist/rl-loop.js [tinker://.../weights/<initial state>]
import { runIfMain } from './run-if-main.js';
import { Datum, ServiceClient, TensorData, type ServiceClientOptions, type TrainingClient } from '@tinker-ts/sdk';
import { lastResumableCheckpoint, saveCheckpoint } from './checkpoint-log.js';
import { promptTokens, readConversations } from './conversations.js';
import { INTENT_TRAIN_FILE, expectedIntent, gradeReply, prefixCredit } from './intent-task.js';
import { shuffled } from './shuffle.js';
import { main as slLoop } from './sl-loop.js';

export interface RlProblem {
  /** The user's message. */
  prompt: string;
  /** What the reward function compares the reply with. */
  answer: string;
}

/** Scores one decoded reply; higher is better. */
export type RewardFn = (reply: string, problem: RlProblem) => number;

/**
 * The intent task's reward: 1 for exactly the right reply, else half the share of the reference
 * reply it gets right before its first mistake (so half-learned formats still rank).
 */
export const intentReward: RewardFn = (reply, problem) =>
  gradeReply(reply, problem.answer).correct ? 1 : 0.5 * prefixCredit(reply, problem.answer);

/** The shipped intent conversations as RL problems. */
export function intentProblems(): RlProblem[] {
  return readConversations(INTENT_TRAIN_FILE).map((c) => ({ prompt: c.messages[c.messages.length - 2]!.content, answer: expectedIntent(c) }));
}

export interface RlLoopOptions {
  baseModel?: string;
  /** Default: the shipped intent data. */
  problems?: RlProblem[];
  reward?: RewardFn;
  iterations?: number;
  /** Prompts per iteration. */
  batchSize?: number;
  /** Samples per prompt. */
  groupSize?: number;
  learningRate?: number;
  rank?: number;
  maxTokens?: number;
  temperature?: number;
  /** Save training state every this many iterations (0 = only at the end). */
  saveEvery?: number;
  logPath?: string;
  /** Seeds the LoRA initialisation and each iteration's sampling (default random), for reproducible runs. */
  seed?: number;
  /**
   * Start from this training state (e.g. a supervised run's final `tinker://.../weights/...`),
   * as RL usually starts from a model that already gets some rewards. Ignored when resuming.
   */
  initialStatePath?: string;
  client?: ServiceClientOptions;
  /** Run on this client's session instead of a new one (which `client` configures); it is left open. */
  service?: ServiceClient;
  log?: (line: string) => void;
}

export interface RlIterationMetrics {
  iteration: number;
  /** Mean reward of this iteration's samples (drawn before its update). */
  meanReward: number;
  /** Groups that were skipped because every sample scored the same. */
  skippedGroups: number;
  numDatums: number;
  seconds: number;
}

export interface RlLoopResult {
  startIteration: number;
  metrics: RlIterationMetrics[];
  finalStatePath: string;
}

const DEFAULTS = {
  baseModel: 'tinker-ts/tiny-qwen3',
  reward: intentReward,
  iterations: 15,
  batchSize: 8,
  groupSize: 8,
  learningRate: 1e-3,
  rank: 16,
  maxTokens: 10,
  temperature: 0.7,
  saveEvery: 0,
  logPath: '/tmp/tinker-ts-examples/rl-loop',
};

export async function main(options: RlLoopOptions = {}): Promise<RlLoopResult> {
  const o = { ...DEFAULTS, ...options };
  const log = o.log ?? ((line: string) => console.log(line));
  const problems = o.problems ?? intentProblems();

  const service = o.service ?? new ServiceClient(o.client ?? {});
  try {
    const resume = lastResumableCheckpoint(o.logPath);
    let training: TrainingClient;
    let startIteration = 0;
    if (resume?.statePath) {
      training = await service.createTrainingClientFromStateWithOptimizer(resume.statePath);
      startIteration = resume.step;
      log(`resuming from iteration ${startIteration} (${resume.statePath})`);
    } else if (o.initialStatePath) {
      training = await service.createTrainingClientFromState(o.initialStatePath);
      log(`starting from ${o.initialStatePath}`);
    } else {
      training = await service.createLoraTrainingClient({ baseModel: o.baseModel, rank: o.rank, ...(o.seed !== undefined ? { seed: o.seed } : {}) });
    }
    const tokenizer = await training.getTokenizer();
    const stop = tokenizer.eosTokenId !== undefined ? [tokenizer.eosTokenId] : undefined;

    const metrics: RlIterationMetrics[] = [];
    for (let it = startIteration; it < o.iterations; it++) {
      const t0 = Date.now();
      if (o.saveEvery > 0 && it % o.saveEvery === 0 && it > startIteration) {
        await saveCheckpoint(training, { name: String(it).padStart(6, '0'), step: it, logPath: o.logPath, kind: 'state' });
      }
      // Sample from exactly the weights being trained.
      const sampler = await training.saveWeightsAndGetSamplingClient();
      const batchProblems = shuffled(problems, it).slice(0, o.batchSize);
      const groups = batchProblems.map((problem) => {
        const prompt = promptTokens(tokenizer, [{ role: 'user', content: problem.prompt }]);
        // One request draws the whole group (the server decodes it as one batch).
        const samples = sampler.sample({
          prompt,
          numSamples: o.groupSize,
          samplingParams: {
            maxTokens: o.maxTokens,
            temperature: o.temperature,
            ...(stop ? { stop } : {}),
            ...(o.seed !== undefined ? { seed: o.seed * 1000 + it } : {}),
          },
        });
        return { problem, prompt, samples };
      });

      const data: Datum[] = [];
      let rewardSum = 0;
      let rewardCount = 0;
      let skippedGroups = 0;
      for (const group of groups) {
        const samples = (await group.samples).sequences;
        const rewards = samples.map((s) => o.reward(tokenizer.decode(s.tokens, { skipSpecialTokens: true }), group.problem));
        const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
        rewardSum += rewards.reduce((a, b) => a + b, 0);
        rewardCount += rewards.length;
        const advantages = rewards.map((r) => r - mean);
        if (advantages.every((a) => a === 0)) {
          skippedGroups++;
          continue;
        }
        samples.forEach((s, i) => {
          if (s.tokens.length === 0) return;
          if (!s.logprobs || s.logprobs.length !== s.tokens.length) throw new Error('the sampler returned no logprobs for its tokens');
          data.push(importanceSamplingDatum(group.prompt, s.tokens, s.logprobs, advantages[i]!));
        });
      }

      if (data.length > 0) {
        const fwdBwd = training.forwardBackward(data, 'importance_sampling');
        const optim = training.optimStep({ learningRate: o.learningRate, beta1: 0.9, beta2: 0.95, eps: 1e-8 });
        await fwdBwd;
        await optim;
      }
      const m: RlIterationMetrics = {
        iteration: it,
        meanReward: rewardSum / Math.max(1, rewardCount),
        skippedGroups,
        numDatums: data.length,
        seconds: (Date.now() - t0) / 1000,
      };
      metrics.push(m);
      log(`iteration ${it}: reward ${m.meanReward.toFixed(3)}, ${m.numDatums} datums, ${skippedGroups} groups skipped, ${m.seconds.toFixed(2)} s`);
    }

    const final = await saveCheckpoint(training, { name: 'final', step: o.iterations, logPath: o.logPath, kind: 'state' });
    log(`final checkpoint: ${final.statePath}`);
    return { startIteration, metrics, finalStatePath: final.statePath! };
  } finally {
    if (!o.service) await service.close();
  }
}

/**
 * prompt + reply as a next-token datum: the model reads tokens[:-1] and predicts tokens[1:]; the
 * prompt's targets get advantage 0 (no learning signal), every reply token the reply's advantage,
 * with the sampler's logprobs for the importance ratio.
 */
export function importanceSamplingDatum(prompt: readonly number[], reply: readonly number[], replyLogprobs: readonly number[], advantage: number): Datum {
  const tokens = [...prompt, ...reply];
  const observed = prompt.length - 1;
  const n = tokens.length - 1;
  const logprobs = new Float32Array(n);
  const advantages = new Float32Array(n);
  for (let i = observed; i < n; i++) {
    logprobs[i] = replyLogprobs[i - observed]!;
    advantages[i] = advantage;
  }
  return new Datum({
    modelInput: tokens.slice(0, -1),
    lossFnInputs: {
      target_tokens: TensorData.int64(tokens.slice(1)),
      logprobs: TensorData.float32(logprobs),
      advantages: TensorData.float32(advantages),
    },
  });
}

/** From the command line: a short supervised warm start (unless a state path is given), then RL. */
async function runFromCommandLine(initialStatePath: string | undefined): Promise<void> {
  const logPath = DEFAULTS.logPath;
  // One session for both stages.
  const service = new ServiceClient();
  try {
    if (!initialStatePath && !lastResumableCheckpoint(logPath)) {
      console.log('warm start: 30 supervised steps, so that some replies already earn rewards');
      const sft = await slLoop({ steps: 30, learningRate: 3e-3, saveEvery: 0, logPath: `${logPath}-warm-start`, service, log: () => {} });
      initialStatePath = sft.finalStatePath;
    }
    await main({ logPath, service, ...(initialStatePath ? { initialStatePath } : {}) });
  } finally {
    await service.close();
  }
}

runIfMain(import.meta.url, 'rl-loop', () => runFromCommandLine(process.argv[2]));
