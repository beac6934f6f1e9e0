/**
 * Session trace export over real HTTP: after training steps and a sample, the session's
 * trace_export is valid trace-event JSON with one request span per request, the phases nested
 * inside it in order on its own track, queue-depth and throughput counters, and 404 for others.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient, TINY_MODEL, tinyBatch } from '../testkit.js';
import { startRestFixture, type RestFixture } from './rest-testkit.js';

let fx: RestFixture;
let alice: TestClient;
let sessionId: string;
let modelId: string;
let samplerId: string;

const ADAM = { learning_rate: 5e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0, grad_clip_norm: 0 };

interface Ev {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  cat?: string;
  args?: Record<string, any>;
}

before(async () => {
  fx = await startRestFixture('tinker-trace-');
  alice = new TestClient(fx.server.url, 'tml-alice');
  sessionId = await alice.createSession();
  modelId = await alice.createModel(sessionId, 0, 2, 3);
  let seq = 1;
  for (let i = 0; i < 2; i++) {
    // Submitted back to back: the second forward_backward queues behind the first.
    const fb = await alice.forwardBackwardProto({
      forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
      model_id: modelId,
      seq_id: seq++,
      forward_only: false,
    });
    const opt = await alice.post('optim_step', { model_id: modelId, seq_id: seq++, adam_params: ADAM });
    await alice.forwardBackwardResult(fb.json.request_id);
    await alice.result(opt.request_id);
  }
  const ss = await alice.post('create_sampling_session', { session_id: sessionId, sampling_session_seq_id: 0, base_model: TINY_MODEL, type: 'create_sampling_session' });
  samplerId = ss.sampling_session_id;
  const sample = await alice.post('asample', {
    sampling_session_id: samplerId,
    seq_id: 0,
    prompt: { chunks: [{ type: 'encoded_text', tokens: [1, 2, 3] }] },
    num_samples: 1,
    sampling_params: { max_tokens: 3, temperature: 1, seed: 1 },
  });
  await alice.sampleResult(sample.request_id);
});

after(async () => {
  await fx.close();
});

/** Every complete event on a track either lies inside the one open around it or starts after it ends. */
function assertNested(events: Ev[]): void {
  const byTrack = new Map<string, Ev[]>();
  for (const e of events.filter((e) => e.ph === 'X')) {
    const key = `${e.pid}/${e.tid}`;
    byTrack.set(key, [...(byTrack.get(key) ?? []), e]);
  }
  for (const [track, list] of byTrack) {
    list.sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
    const open: Ev[] = [];
    for (const e of list) {
      const end = (x: Ev) => x.ts + x.dur!;
      while (open.length > 0 && e.ts >= end(open[open.length - 1]!)) open.pop();
      const parent = open[open.length - 1];
      if (parent) {
        assert.ok(end(e) <= end(parent), `${e.name} overlaps the end of ${parent.name} on track ${track}`);
      }
      open.push(e);
    }
  }
}

test('trace_export is trace-event JSON with nested request spans and counters', async () => {
  const res = await alice.request('GET', `sessions/${sessionId}/trace_export`);
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const trace = JSON.parse(Buffer.from(res.body).toString('utf8'));
  assert.ok(Array.isArray(trace.traceEvents));
  assert.equal(trace.displayTimeUnit, 'ms');
  assert.equal(trace.otherData.session_id, sessionId);
  const events = trace.traceEvents as Ev[];
  for (const e of events) {
    assert.equal(typeof e.name, 'string');
    assert.ok(['X', 'i', 'C', 'M'].includes(e.ph), `phase ${e.ph}`);
    assert.ok(Number.isInteger(e.ts) && Number.isInteger(e.pid) && Number.isInteger(e.tid), JSON.stringify(e));
    if (e.ph === 'X') assert.ok(Number.isInteger(e.dur) && e.dur! >= 0, JSON.stringify(e));
  }

  const requests = events.filter((e) => e.ph === 'X' && e.cat === 'request');
  assert.deepEqual(
    requests.map((e) => e.name),
    ['create_model', 'forward_backward', 'optim_step', 'forward_backward', 'optim_step', 'sample'],
  );
  assert.equal(trace.otherData.requests, 6);
  assert.ok(requests.every((r) => r.args!.state === 'done'));
  assert.equal(new Set(requests.map((r) => `${r.pid}/${r.tid}`)).size, 6, 'one track per request');
  const processNames = events.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => e.args!.name);
  assert.ok(processNames.includes(`training run ${modelId}`) && processNames.includes(`sampler ${samplerId}`), processNames.join(', '));

  for (const r of requests) {
    const track = events.filter((e) => e.pid === r.pid && e.tid === r.tid && e.ph !== 'M');
    const phase = (name: string) => track.find((e) => e.name === name);
    const queued = phase('queued')!;
    const running = phase('running')!;
    const written = phase('result written')!;
    const polled = phase('polled')!;
    assert.ok(queued && running && written && polled, `${r.name} has every phase: ${track.map((e) => e.name).join(', ')}`);
    assert.equal(queued.ts, r.ts, 'queued from submission');
    assert.equal(running.ts, queued.ts + queued.dur!, 'running right after queued');
    assert.equal(written.ts, running.ts + running.dur!, 'result written when running ends');
    assert.equal(polled.ts, written.ts);
    assert.equal(polled.ts + polled.dur!, r.ts + r.dur!, 'the request ends when the poll handed over the result');
    assert.ok(polled.args!.polls >= 1);
  }
  assertNested(events);

  const depth = events.filter((e) => e.ph === 'C' && e.name === 'queue depth');
  assert.ok(depth.length >= 6);
  assert.ok(depth.some((e) => e.args!.running === 1));
  assert.deepEqual(depth[depth.length - 1]!.args, { queued: 0, running: 0 }, 'nothing left at the end');
  const throughput = events.filter((e) => e.ph === 'C' && e.name === 'throughput');
  assert.equal(throughput.reduce((n, e) => n + e.args!.requests_per_s, 0), 6, 'every finish counted once');
});

test('another user sees 404 and an unknown session is 404', async () => {
  const bob = new TestClient(fx.server.url, 'tml-bob');
  assert.equal((await bob.request('GET', `sessions/${sessionId}/trace_export`)).status, 404);
  assert.equal((await alice.request('GET', 'sessions/nope/trace_export')).status, 404);
});
