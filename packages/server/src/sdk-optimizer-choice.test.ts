/**
 * The SDK with a Dimuon training client against the in-process server: the loss goes down over
 * steps, saveState → createTrainingClientFromStateWithOptimizer (and loadStateWithOptimizer into
 * a new Dimuon client) continue exactly as the original would, and the other family's
 * parameters are refused: by the SDK before sending, and by the server when they reach it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError, ValidationError, type ServiceClient } from '@tinker-ts/sdk';
import { E2E_MODEL, e2eBatch, startInProcessServer, type InProcessServer } from './e2e-testkit.js';
import { TestClient } from './testkit.js';

const DIMUON = { type: 'dimuon', version: 1 } as const;
const STEP = { type: 'dimuon', learningRate: 0.02 } as const;

let env: InProcessServer | undefined;
let sc: ServiceClient;

before(async () => {
  env = await startInProcessServer('tinker-sdk-dimuon-');
  sc = env.sc;
});

after(async () => {
  await env?.close();
});

async function trainStep(tc: Awaited<ReturnType<ServiceClient['createLoraTrainingClient']>>): Promise<number> {
  const out = await tc.forwardBackward(e2eBatch(), 'cross_entropy');
  await tc.optimStep(STEP);
  return out.metrics['loss:sum']!;
}

test('Dimuon through the SDK: the loss falls, and a full-state resume continues identically', async () => {
  const tc = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 5, optimizer: DIMUON });
  assert.deepEqual(tc.optimizer, DIMUON);
  const losses: number[] = [];
  for (let i = 0; i < 6; i++) losses.push(await trainStep(tc));
  assert.ok(losses.at(-1)! < losses[0]! * 0.9, `loss ${losses.join(' → ')}`);

  const saved = await tc.saveState('dimuon-6');
  const resumed = await sc.createTrainingClientFromStateWithOptimizer(saved.path);
  assert.deepEqual(resumed.optimizer, DIMUON, 'the resumed client takes the checkpoint optimizer');
  const loaded = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 99, optimizer: DIMUON });
  await loaded.loadStateWithOptimizer(saved.path);
  const original: number[] = [];
  const fromState: number[] = [];
  const fromLoad: number[] = [];
  for (let i = 0; i < 3; i++) {
    original.push(await trainStep(tc));
    fromState.push(await trainStep(resumed));
    fromLoad.push(await trainStep(loaded));
  }
  assert.deepEqual(fromState, original);
  assert.deepEqual(fromLoad, original);
  assert.ok(original.at(-1)! < losses[0]!, `loss ${losses[0]} → ${original.at(-1)}`);
});

test('the wrong family is refused: by the SDK before sending, by the server (400) otherwise', async () => {
  const dimuon = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 1, optimizer: DIMUON });
  const adam = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 1 });
  assert.deepEqual(adam.optimizer, { type: 'adamw' });
  assert.throws(() => dimuon.optimStep({ learningRate: 1e-3 }), (e: unknown) => e instanceof ValidationError && /created with the Dimuon optimizer/.test(e.message));
  assert.throws(() => adam.optimStep(STEP), (e: unknown) => e instanceof ValidationError && /created with the AdamW optimizer/.test(e.message));
  // Both still train with their own parameters afterwards.
  await dimuon.forwardBackward(e2eBatch(), 'cross_entropy');
  await dimuon.optimStep(STEP);
  await adam.forwardBackward(e2eBatch(), 'cross_entropy');
  await adam.optimStep({ learningRate: 1e-3 });

  // Loading Dimuon optimizer state into an AdamW client is a user error.
  const saved = await dimuon.saveState('dimuon-wrong');
  const target = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 2 });
  await assert.rejects(target.loadStateWithOptimizer(saved.path).future(),
    (e: unknown) => e instanceof BadRequestError && /holds Dimuon optimizer state, but model .* was created with the AdamW optimizer/.test(e.message));
  // A client that skips the SDK's check (raw HTTP) gets the server's 400.
  const raw = new TestClient(env!.server.url, 'tml-e2e-user');
  const res = await raw.request('POST', 'optim_step', { model_id: dimuon.modelId, seq_id: 99, adam_params: { learning_rate: 1e-3 } });
  assert.equal(res.status, 400);
  assert.match(res.json.error, /was created with the Dimuon optimizer/);
});
