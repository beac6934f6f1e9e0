import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SamplingClient } from '@tinker-ts/sdk';
import { doGroupRollout } from './rl-rollouts.js';
import type { Env, EnvGroupBuilder } from './rl-types.js';

/** A sampler that answers every request with `[100 + call]`, logprob −1, and records the requests. */
function scriptedSampler(requests: Array<{ prompt: number[]; numSamples: number }>): SamplingClient {
  let call = 0;
  return {
    sample: (o: { prompt: number[]; numSamples: number }) => {
      requests.push({ prompt: [...o.prompt], numSamples: o.numSamples });
      return Promise.resolve({
        sequences: Array.from({ length: o.numSamples }, () => ({ tokens: [100 + call++], logprobs: [-1], stopReason: 'stop' })),
        promptCacheHitTokens: 0,
      });
    },
  } as unknown as SamplingClient;
}

/** Two turns: the env answers the first action with token 7, then ends with reward = last action token. */
function twoTurnEnv(): Env {
  let turn = 0;
  let context: number[] = [1, 2];
  return {
    initialObservation: () => ({ observation: context, stopCondition: { maxTokens: 1 } }),
    step: (action) => {
      turn++;
      context = [...context, ...action, 7];
      return turn === 1
        ? { reward: 0.5, episodeDone: false, nextObservation: context, metrics: { turn } }
        : { reward: action[0]! / 1000, episodeDone: true, metrics: { turn } };
    },
  };
}

test('a group rollout shares the first sample request, plays each env to the end and adds group rewards', async () => {
  const requests: Array<{ prompt: number[]; numSamples: number }> = [];
  const builder: EnvGroupBuilder = {
    makeEnvs: () => [twoTurnEnv(), twoTurnEnv()],
    computeGroupRewards: (trajectories) => trajectories.map((_, i) => (i === 0 ? 1 : 0)),
  };
  const group = await doGroupRollout(builder, scriptedSampler(requests), { maxTokens: 4 });
  assert.deepEqual(requests[0], { prompt: [1, 2], numSamples: 2 }, 'identical first observations: one request for the group');
  assert.equal(requests.length, 3, 'then one request per env for its second turn');
  const [a, b] = group.trajectories;
  assert.deepEqual(a!.transitions.map((t) => [t.observation, t.action]), [[[1, 2], [100]], [[1, 2, 100, 7], [a!.transitions[1]!.action[0]]]]);
  assert.deepEqual(b!.transitions[0]!.action, [101]);
  const second = (t: typeof a) => t!.transitions[1]!.action[0]! / 1000;
  assert.deepEqual(group.totalRewards, [0.5 + second(a) + 1, 0.5 + second(b)]);
});

test('an env that never ends is stopped with a clear error', async () => {
  const endless: Env = { initialObservation: () => ({ observation: [1], stopCondition: {} }), step: (a) => ({ reward: 0, episodeDone: false, nextObservation: [1, ...a] }) };
  await assert.rejects(
    doGroupRollout({ makeEnvs: () => [endless] }, scriptedSampler([]), { maxTokens: 1, maxTurns: 3 }),
    /an episode ran past 3 turns without episodeDone/,
  );
  const noNext: Env = { initialObservation: () => ({ observation: [1], stopCondition: {} }), step: () => ({ reward: 0, episodeDone: false }) };
  await assert.rejects(doGroupRollout({ makeEnvs: () => [noNext] }, scriptedSampler([]), { maxTokens: 1 }), /must give nextObservation/);
});
