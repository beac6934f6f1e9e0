// Rollouts of env groups with the current sampler, group-centred advantages, and the training
// data they become (the cookbook's do_group_rollout, compute_advantages and assemble_training_data).
import { Datum, TensorData, ValidationError, type SamplingClient } from '@tinker-ts/sdk';
import type { Env, EnvGroupBuilder, StopCondition, Trajectory, Transition } from './rl-types.js';

export interface RolloutSampling {
  temperature?: number;
  /** Used when the env's stop condition gives none. */
  maxTokens: number;
  seed?: number;
  /** An episode longer than this many turns is an env bug. */
  maxTurns?: number;
}

export interface TrajectoryGroup {
  trajectories: Trajectory[];
  /** Per trajectory: Σ of its step rewards plus its group reward. */
  totalRewards: number[];
}

/** Plays every env of the group to the end. Envs starting from the same observation share one sample request. */
export async function doGroupRollout(builder: EnvGroupBuilder, sampler: SamplingClient, s: RolloutSampling): Promise<TrajectoryGroup> {
  const envs = await builder.makeEnvs();
  if (envs.length === 0) throw new ValidationError('an env group builder made no envs', { field: 'envs' });
  const starts = await Promise.all(envs.map((e) => e.initialObservation()));
  const first = starts[0]!;
  const shared = starts.every((x) => sameTokens(x.observation, first.observation) && JSON.stringify(x.stopCondition) === JSON.stringify(first.stopCondition));
  const firstActions = shared
    ? (await sampler.sample({ prompt: first.observation, numSamples: envs.length, samplingParams: params(first.stopCondition, s, 0) })).sequences
    : undefined;
  const trajectories = await Promise.all(
    envs.map((env, i) => playEpisode(env, starts[i]!, sampler, s, firstActions?.[i])),
  );
  const groupRewards = builder.computeGroupRewards ? await builder.computeGroupRewards(trajectories) : trajectories.map(() => 0);
  if (groupRewards.length !== trajectories.length) {
    throw new ValidationError(`computeGroupRewards returned ${groupRewards.length} rewards for ${trajectories.length} trajectories`, { field: 'rewards' });
  }
  const totalRewards = trajectories.map((t, i) => t.transitions.reduce((sum, x) => sum + x.reward, 0) + groupRewards[i]!);
  return { trajectories, totalRewards };
}

async function playEpisode(
  env: Env,
  start: { observation: number[]; stopCondition: StopCondition },
  sampler: SamplingClient,
  s: RolloutSampling,
  firstAction: { tokens: number[]; logprobs?: number[] | undefined } | undefined,
): Promise<Trajectory> {
  const transitions: Transition[] = [];
  let observation = start.observation;
  let stop = start.stopCondition;
  const maxTurns = s.maxTurns ?? 64;
  for (let turn = 0; ; turn++) {
    if (turn >= maxTurns) throw new ValidationError(`an episode ran past ${maxTurns} turns without episodeDone`, { field: 'env' });
    const seq = turn === 0 && firstAction ? firstAction : (await sampler.sample({ prompt: observation, numSamples: 1, samplingParams: params(stop, s, turn) })).sequences[0]!;
    if (!seq.logprobs || seq.logprobs.length !== seq.tokens.length) throw new ValidationError('the sampler returned no logprobs for its tokens', { field: 'logprobs' });
    const result = await env.step(seq.tokens);
    transitions.push({
      observation, action: seq.tokens, actionLogprobs: seq.logprobs, reward: result.reward, episodeDone: result.episodeDone, metrics: result.metrics ?? {},
    });
    if (result.episodeDone) return { transitions };
    if (!result.nextObservation) throw new ValidationError('an env step that is not done must give nextObservation', { field: 'env' });
    observation = result.nextObservation;
    stop = result.nextStopCondition ?? stop;
  }
}

function params(stop: StopCondition, s: RolloutSampling, turn: number) {
  return {
    maxTokens: stop.maxTokens ?? s.maxTokens,
    temperature: s.temperature ?? 1,
    ...(stop.stop ? { stop: stop.stop } : {}),
    ...(s.seed !== undefined ? { seed: s.seed + turn } : {}),
  };
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** Each reward minus its group's mean: the GRPO-style advantage. */
export function centeredAdvantages(rewards: readonly number[]): number[] {
  const mean = rewards.reduce((a, b) => a + b, 0) / Math.max(1, rewards.length);
  return rewards.map((r) => r - mean);
}

/** A training datum with the sampler's logprobs and the mask of the sampled tokens (for diagnostics). */
export interface PolicyGradientDatum {
  datum: Datum;
  samplingLogprobs: Float32Array;
  mask: Float32Array;
}

/**
 * A trajectory as importance_sampling data: consecutive turns whose observation extends the
 * previous observation + action make one sequence; the action tokens carry the advantage and
 * the sampler's logprobs, every other target gets advantage 0. `tokenAdvantages`, when given,
 * adds a per-action-token term (e.g. a distillation teacher's signal).
 */
export function trajectoryToData(
  trajectory: Trajectory,
  advantage: number,
  tokenAdvantages?: ReadonlyArray<ArrayLike<number>>,
): PolicyGradientDatum[] {
  const out: PolicyGradientDatum[] = [];
  let tokens: number[] = [];
  let sampled: Array<{ logprob: number; advantage: number } | undefined> = [];
  const flush = () => {
    if (tokens.length >= 2 && sampled.some((x) => x)) out.push(policyGradientDatum(tokens, sampled));
    tokens = [];
    sampled = [];
  };
  trajectory.transitions.forEach((t, turn) => {
    const extends_ = tokens.length > 0 && t.observation.length >= tokens.length && tokens.every((x, i) => t.observation[i] === x);
    if (!extends_) flush();
    const tail = t.observation.slice(tokens.length);
    for (const x of tail) {
      tokens.push(x);
      sampled.push(undefined);
    }
    t.action.forEach((x, k) => {
      tokens.push(x);
      sampled.push({ logprob: t.actionLogprobs[k]!, advantage: advantage + (tokenAdvantages?.[turn]?.[k] ?? 0) });
    });
  });
  flush();
  return out;
}

function policyGradientDatum(tokens: readonly number[], sampled: ReadonlyArray<{ logprob: number; advantage: number } | undefined>): PolicyGradientDatum {
  const n = tokens.length - 1;
  const logprobs = new Float32Array(n);
  const advantages = new Float32Array(n);
  const mask = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = sampled[i + 1];
    if (!s) continue;
    logprobs[i] = s.logprob;
    advantages[i] = s.advantage;
    mask[i] = 1;
  }
  const datum = new Datum({
    modelInput: tokens.slice(0, -1),
    lossFnInputs: {
      target_tokens: TensorData.int64(tokens.slice(1)),
      logprobs: TensorData.float32(logprobs),
      advantages: TensorData.float32(advantages),
    },
  });
  return { datum, samplingLogprobs: logprobs, mask };
}
