// Reinforcement learning shaped like the Tinker cookbook's rl_loop.py (GRPO style): each
// iteration samples a group of replies per prompt from the current weights, scores them with a
// reward function, centres rewards within each group to get advantages, and trains with the
// `importance_sampling` loss on the sampler's own logprobs. The loop is the cookbook's RL recipe
// (`trainRl`); this file makes the intent task its environment.
//
//   node examples/dist/rl-loop.js [tinker://.../weights/<initial state>]
import { runIfMain } from './run-if-main.js';
import { ServiceClient, getTokenizer, type ServiceClientOptions } from '@tinker-ts/sdk';
import { PromptAnswerEnv, getRenderer, shuffled, trainRl, type EnvGroupBuilder, type RLDataset, type Renderer } from '@tinker-ts/cookbook';
import { lastResumableCheckpoint } from './checkpoint-log.js';
import { readConversations } from './conversations.js';
import { INTENT_TRAIN_FILE, expectedIntent, gradeReply, prefixCredit } from './intent-task.js';
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
  // The examples' chat format: Qwen3 answering directly, without a thinking block.
  const renderer = getRenderer('qwen3_disable_thinking', getTokenizer(o.baseModel));

  const service = o.service ?? new ServiceClient(o.client ?? {});
  try {
    const run = await trainRl(service, {
      baseModel: o.baseModel,
      logDir: o.logPath,
      dataset: intentDataset(problems, renderer, o),
      steps: o.iterations,
      learningRate: o.learningRate,
      rank: o.rank,
      maxTokens: o.maxTokens,
      temperature: o.temperature,
      saveEvery: o.saveEvery,
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.initialStatePath ? { initialStatePath: o.initialStatePath } : {}),
      log,
    });
    return {
      startIteration: run.startStep,
      metrics: run.steps.map((m) => ({
        iteration: m.step,
        meanReward: m['env/reward_mean']!,
        skippedGroups: m['env/groups_skipped']!,
        numDatums: m['num_datums']!,
        seconds: m['time/step_s']!,
      })),
      finalStatePath: run.final.statePath!,
    };
  } finally {
    if (!o.service) await service.close();
  }
}

/** Each iteration: `batchSize` problems (a fresh seeded order), each a group of `groupSize` one-reply envs. */
function intentDataset(problems: readonly RlProblem[], renderer: Renderer, o: { batchSize: number; groupSize: number; maxTokens: number; reward: RewardFn }): RLDataset {
  return {
    length: Math.floor(problems.length / o.batchSize),
    getBatch: (it): EnvGroupBuilder[] =>
      shuffled(problems, it)
        .slice(0, o.batchSize)
        .map((problem) => ({
          makeEnvs: () =>
            Array.from(
              { length: o.groupSize },
              () => new PromptAnswerEnv(renderer, { prompt: [{ role: 'user', content: problem.prompt }], answer: problem.answer }, (reply) => o.reward(reply, problem), o.maxTokens),
            ),
        })),
  };
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
