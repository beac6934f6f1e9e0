// A training model's requests reach the server in call order even when the network delays each
// one differently and the server runs them in the order it receives them (as SkyRL tx does).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectFakeTinker } from './fake-tinker-client.testkit.js';
import type { LoggedRequest } from './fake-tinker.testkit.js';
import { Var, track } from './custom-loss.js';
import { Datum } from './datum.js';
import type { APIFuture } from './future.js';
import type { TrainingClient } from './training-client.js';

const ORDERED_ROUTES = new Set(['forward_backward', 'optim_step', 'save_weights', 'save_weights_for_sampler', 'load_weights']);
const PAIRS = 200;
const NETWORK_DELAY_MS = 4;

/** The seq_ids of one model's requests in the order the server received them. */
function receivedSeqIds(log: readonly LoggedRequest[], modelId: string): number[] {
  return log.filter((r) => ORDERED_ROUTES.has(r.route) && r.body?.model_id === modelId).map((r) => Number(r.body.seq_id));
}

function batch(size: number, salt: number): Datum[] {
  return Array.from({ length: size }, (_, i) => Datum.fromTokens([salt % 97, i + 1, i + 2, (salt + i) % 89]));
}

/** Asserts `seqIds` is 1..n in order. */
function assertStrictOrder(seqIds: readonly number[], n: number, what: string): void {
  const outOfOrder = seqIds.filter((s, i) => i > 0 && s < seqIds[i - 1]!).length;
  assert.equal(outOfOrder, 0, `${what}: ${outOfOrder} requests arrived before an earlier one: ${seqIds.join(',')}`);
  assert.deepEqual(seqIds, Array.from({ length: n }, (_, i) => i + 1), what);
}

test('200 pipelined forwardBackward + optimStep pairs reach a receipt-ordered server in seq_id order (await)', async (t) => {
  const { peer, service } = await connectFakeTinker(t, { networkDelayMs: NETWORK_DELAY_MS });
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const pending: APIFuture<unknown>[] = [];
  for (let step = 0; step < PAIRS; step++) {
    pending.push(tc.forwardBackward(batch(4, step), 'cross_entropy'));
    pending.push(tc.optimStep({ learningRate: 1e-4 }));
  }
  await Promise.all(pending);
  assertStrictOrder(receivedSeqIds(await peer.log(), tc.modelId), 2 * PAIRS, 'await style');
});

test('the same in blocking style, each step submitted before the last one is waited on', async (t) => {
  const { peer, service } = await connectFakeTinker(t, { networkDelayMs: NETWORK_DELAY_MS });
  const tc = service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' }).result();
  let previous: [APIFuture<unknown>, APIFuture<unknown>] | undefined;
  for (let step = 0; step < PAIRS; step++) {
    const next: [APIFuture<unknown>, APIFuture<unknown>] = [tc.forwardBackward(batch(4, step), 'cross_entropy'), tc.optimStep({ learningRate: 1e-4 })];
    if (previous) {
      previous[0].result();
      previous[1].result();
    }
    previous = next;
  }
  previous![0].result();
  previous![1].result();
  assertStrictOrder(receivedSeqIds(await peer.log(), tc.modelId), 2 * PAIRS, 'blocking style');
});

/**
 * Chunked batches of 3 chunks (5 datums, 2 per chunk) then an optim_step: seq_ids 4k+1..4k+3 are
 * step k's chunks and 4k+4 its optim_step.
 */
async function runChunkedSteps(tc: TrainingClient, steps: number): Promise<void> {
  const pending: APIFuture<unknown>[] = [];
  for (let step = 0; step < steps; step++) {
    pending.push(tc.forwardBackward(batch(5, step), 'cross_entropy'));
    pending.push(tc.optimStep({ learningRate: 1e-4 }));
  }
  await Promise.all(pending);
}

test('chunked forwardBackwards, chunks in parallel: every call after the previous one, the first chunk last', async (t) => {
  const { peer, service } = await connectFakeTinker(t, { networkDelayMs: NETWORK_DELAY_MS, config: { fwdbwd_max_chunk_len: 2, parallel_fwdbwd_chunks: true } });
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const steps = 60;
  await runChunkedSteps(tc, steps);
  const seqIds = receivedSeqIds(await peer.log(), tc.modelId);
  assert.equal(seqIds.length, steps * 4);
  for (let step = 0; step < steps; step++) {
    const group = seqIds.slice(step * 4, step * 4 + 4);
    const base = step * 4;
    assert.deepEqual([...group.slice(0, 2)].sort((a, b) => a - b), [base + 2, base + 3], `step ${step}: chunks 2 and 3 first, in either order (${group})`);
    assert.deepEqual(group.slice(2), [base + 1, base + 4], `step ${step}: then chunk 1, then the optim_step (${group})`);
  }
});

test('chunked forwardBackwards, chunks one after another when the server asks for serial chunks', async (t) => {
  const { peer, service } = await connectFakeTinker(t, { networkDelayMs: NETWORK_DELAY_MS, config: { fwdbwd_max_chunk_len: 2, parallel_fwdbwd_chunks: false } });
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  await runChunkedSteps(tc, 60);
  assertStrictOrder(receivedSeqIds(await peer.log(), tc.modelId), 60 * 4, 'serial chunks');
});

test('concurrent training clients each keep their own order without waiting for one another', async (t) => {
  const { peer, service } = await connectFakeTinker(t, { networkDelayMs: NETWORK_DELAY_MS });
  const clients = await Promise.all([0, 1, 2].map(() => service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' })));
  const pending: APIFuture<unknown>[] = [];
  const steps = 80;
  for (let step = 0; step < steps; step++) {
    for (const tc of clients) {
      pending.push(tc.forwardBackward(batch(3, step), 'cross_entropy'));
      pending.push(tc.optimStep({ learningRate: 1e-4 }));
      if (step % 20 === 19) pending.push(tc.saveState(`step-${step}`));
    }
  }
  await Promise.all(pending);
  const log = await peer.log();
  for (const tc of clients) assertStrictOrder(receivedSeqIds(log, tc.modelId), steps * 2 + steps / 20, tc.modelId);
  // The lanes are independent: the three models' requests interleave at the server.
  const owners = log.filter((r) => ORDERED_ROUTES.has(r.route)).map((r) => r.body.model_id as string);
  const switches = owners.filter((m, i) => i > 0 && m !== owners[i - 1]).length;
  assert.ok(switches > steps, `the models' requests interleave (${switches} switches)`);
});

test('a forwardBackwardCustom and the calls after it: the backward pass goes before the later calls', async (t) => {
  const { peer, service } = await connectFakeTinker(t, { networkDelayMs: NETWORK_DELAY_MS });
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const pending: APIFuture<unknown>[] = [];
  for (let step = 0; step < 20; step++) {
    pending.push(tc.forwardBackwardCustom(batch(2, step), (_data, logprobs) => ({ loss: Var.sum(logprobs.flatMap((lp) => track(lp))) })));
    pending.push(tc.optimStep({ learningRate: 1e-4 }));
  }
  await Promise.all(pending);
  assertStrictOrder(receivedSeqIds(await peer.log(), tc.modelId), 20 * 3, 'custom loss');
});

test('an aborted request is still delivered in its place; the requests after it wait for it', async (t) => {
  const { peer, service } = await connectFakeTinker(t, { networkDelayMs: NETWORK_DELAY_MS });
  const tc = await service.createLoraTrainingClient({ baseModel: 'Qwen/Qwen3-8B' });
  const rounds = 40;
  const pending: APIFuture<unknown>[] = [];
  for (let i = 0; i < rounds; i++) {
    const controller = new AbortController();
    const fb = tc.forwardBackward(batch(4, i), 'cross_entropy', undefined, { signal: controller.signal });
    pending.push(tc.optimStep({ learningRate: 1e-4 }));
    controller.abort();
    await assert.rejects(fb.future(), /abort/i);
  }
  await Promise.all(pending);
  const save = await tc.saveState('after-aborts');
  assert.ok(save.path.endsWith('after-aborts'));
  assertStrictOrder(receivedSeqIds(await peer.log(), tc.modelId), 2 * rounds + 1, 'aborted calls');
});
