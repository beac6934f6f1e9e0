/**
 * The server's record of training metrics over real HTTP: every completed forward_backward and
 * optim_step lands in `GET training_runs/{id}/metrics` with its step, client reports join them,
 * other users see 404, and bad queries and reports get 400s naming the field.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient, tinyBatch } from '../testkit.js';
import { startRestFixture, type RestFixture } from './rest-testkit.js';

let fx: RestFixture;
let alice: TestClient;
let bob: TestClient;
let modelId: string;
const losses: number[] = [];

const ADAM = { learning_rate: 5e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0, grad_clip_norm: 0 };

before(async () => {
  fx = await startRestFixture('tinker-metrics-');
  alice = new TestClient(fx.server.url, 'tml-alice');
  bob = new TestClient(fx.server.url, 'tml-bob');
  const sessionId = await alice.createSession();
  modelId = await alice.createModel(sessionId, 0, 2, 3);
  let seq = 1;
  for (let i = 0; i < 3; i++) {
    const fb = await alice.forwardBackwardProto({
      forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
      model_id: modelId,
      seq_id: seq++,
      forward_only: false,
    });
    const opt = await alice.post('optim_step', { model_id: modelId, seq_id: seq++, adam_params: ADAM });
    losses.push((await alice.forwardBackwardResult(fb.json.request_id)).metrics['loss:sum']!);
    await alice.result(opt.request_id);
  }
});

after(async () => {
  await fx.close();
});

const route = () => `training_runs/${encodeURIComponent(modelId)}/metrics`;

test('every forward_backward and optim_step is recorded with its step and metrics', async () => {
  const res = await alice.request('GET', route());
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.training_run_id, modelId);
  assert.equal(res.json.optim_steps, 3);
  const fb = res.json.metrics.filter((r: any) => r.kind === 'forward_backward');
  const opt = res.json.metrics.filter((r: any) => r.kind === 'optim_step');
  assert.deepEqual(fb.map((r: any) => r.step), [0, 1, 2]);
  assert.deepEqual(opt.map((r: any) => r.step), [0, 1, 2]);
  assert.deepEqual(fb.map((r: any) => r.metrics['loss:sum']), losses, 'the recorded loss is the one the client got');
  assert.deepEqual(fb.map((r: any) => r.seq_id), [1, 3, 5]);
  assert.equal(fb[0].request_id, `${modelId}:1`);
  assert.match(fb[0].time, /^\d{4}-\d\d-\d\dT/);
  const ids = res.json.metrics.map((r: any) => r.id);
  assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'oldest first');

  const later = await alice.request('GET', `${route()}?after=${ids[3]}`);
  assert.deepEqual(later.json.metrics.map((r: any) => r.id), ids.slice(4));
  assert.equal(later.json.total_count, 6);
  const one = await alice.request('GET', `${route()}?limit=1`);
  assert.deepEqual(one.json.metrics.map((r: any) => r.id), ids.slice(0, 1));
});

test('a client report joins the record at the step it names', async () => {
  const post = await alice.request('POST', route(), { step: 2, metrics: { kl_sample_train_v1: 0.012, 'logprob_gap:mean': -0.003 } });
  assert.equal(post.status, 200, JSON.stringify(post.json));
  assert.equal(post.json.recorded, 2);
  const res = await alice.request('GET', route());
  const reported = res.json.metrics.filter((r: any) => r.kind === 'reported');
  assert.equal(reported.length, 1);
  assert.equal(reported[0].step, 2);
  assert.deepEqual(reported[0].metrics, { kl_sample_train_v1: 0.012, 'logprob_gap:mean': -0.003 });
});

test('another user sees 404 and cannot report; bad input gets a 400 naming the field', async () => {
  assert.equal((await bob.request('GET', route())).status, 404);
  assert.equal((await bob.request('POST', route(), { step: 0, metrics: { x: 1 } })).status, 404);
  assert.equal((await alice.request('GET', 'training_runs/nope/metrics')).status, 404);
  assert.equal((await new TestClient(fx.server.url, null).request('GET', route())).status, 401);

  const badAfter = await alice.request('GET', `${route()}?after=-1`);
  assert.equal(badAfter.status, 400);
  assert.equal(badAfter.json.field, 'after');
  const badLimit = await alice.request('GET', `${route()}?limit=0`);
  assert.equal(badLimit.json.field, 'limit');

  const cases: Array<[unknown, string | undefined]> = [
    [{ step: -1, metrics: { x: 1 } }, 'step'],
    [{ step: 1.5, metrics: { x: 1 } }, 'step'],
    [{ step: 0, metrics: [] }, 'metrics'],
    [{ step: 0, metrics: {} }, 'metrics'],
    [{ step: 0, metrics: { x: 'a' } }, 'metrics.x'],
    [{ step: 0, metrics: { x: null } }, 'metrics.x'],
    [[1, 2], undefined],
  ];
  for (const [body, field] of cases) {
    const res = await alice.request('POST', route(), body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.json.field, field, JSON.stringify(body));
    assert.equal(typeof res.json.error, 'string');
  }
  const after = await alice.request('GET', route());
  assert.equal(after.json.metrics.filter((r: any) => r.kind === 'reported').length, 1, 'refused reports are not recorded');
});
