// A single-turn RL environment over (prompt, answer) problems: the policy replies once and a
// reward function grades the parsed reply against the answer. Its dataset gives each batch
// `groupsPerBatch` problems with `groupSize` envs each (the group whose rewards are centred).
import { ValidationError } from '@tinker-ts/sdk';
import type { Renderer } from '../renderers/renderer.js';
import type { Problem } from './jsonl-data.js';
import type { Action, Env, EnvGroupBuilder, Observation, RLDataset, StepResult, StopCondition } from './rl-types.js';
import { batchAt } from './shuffle.js';

/** Grades a reply (the parsed assistant message's content) against the answer; higher is better. */
export type RewardFn = (reply: string, answer: string) => number;

/**
 * 1 for exactly the answer (ignoring surrounding white space), else half the share of the answer
 * the reply gets right before its first mistake: dense enough to rank the replies of a barely
 * trained policy.
 */
export const prefixMatchReward: RewardFn = (reply, answer) => {
  const r = reply.trim();
  const a = answer.trim();
  if (r === a) return 1;
  let n = 0;
  while (n < a.length && n < r.length && r[n] === a[n]) n++;
  return a.length > 0 ? (0.5 * n) / a.length : 0;
};

export class PromptAnswerEnv implements Env {
  constructor(
    private readonly renderer: Renderer,
    private readonly problem: Problem,
    private readonly reward: RewardFn,
    private readonly maxTokens?: number,
  ) {}

  initialObservation(): { observation: Observation; stopCondition: StopCondition } {
    return {
      observation: this.renderer.buildGenerationPrompt(this.problem.prompt),
      stopCondition: { stop: this.renderer.stopSequences(), ...(this.maxTokens !== undefined ? { maxTokens: this.maxTokens } : {}) },
    };
  }

  step(action: Action): StepResult {
    const parsed = this.renderer.parseResponse(action);
    const reward = this.reward(parsed.message.content, this.problem.answer);
    return { reward, episodeDone: true, metrics: { correct: reward === 1 ? 1 : 0, format_ok: parsed.ok ? 1 : 0 } };
  }
}

export interface PromptAnswerDatasetOptions {
  problems: readonly Problem[];
  renderer: Renderer;
  /** Envs per problem (default 8). */
  groupSize?: number;
  /** Problems per batch (default 8, at most the number of problems). */
  groupsPerBatch?: number;
  reward?: RewardFn;
  maxTokens?: number;
  /** Seeds the order of problems. */
  seed?: number;
}

export function promptAnswerDataset(o: PromptAnswerDatasetOptions): RLDataset {
  if (o.problems.length === 0) throw new ValidationError('problems: need at least one', { field: 'problems' });
  const groupSize = o.groupSize ?? 8;
  const groupsPerBatch = Math.min(o.groupsPerBatch ?? 8, o.problems.length);
  if (!Number.isInteger(groupSize) || groupSize < 2) throw new ValidationError(`groupSize: must be an integer ≥ 2 (advantages are centred within a group), got ${groupSize}`, { field: 'groupSize' });
  const reward = o.reward ?? prefixMatchReward;
  return {
    length: Math.floor(o.problems.length / groupsPerBatch),
    getBatch: (index): EnvGroupBuilder[] =>
      batchAt(o.problems, groupsPerBatch, index, o.seed ?? 0).map((problem) => ({
        makeEnvs: () => Array.from({ length: groupSize }, () => new PromptAnswerEnv(o.renderer, problem, reward, o.maxTokens)),
        logTags: () => ['prompt_answer'],
      })),
  };
}
