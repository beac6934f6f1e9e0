/**
 * The REST surface over real HTTP: listing shapes and pagination, checkpoint info, publish,
 * TTL, archive links and downloads, delete (files removed), sessions and samplers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { TestClient, TINY_MODEL } from '../testkit.js';
import { extractTar } from '@tinker-ts/protocol/tar';
import { checkpointRoute, createUserObjects, startRestFixture, type RestFixture, type UserObjects } from './rest-testkit.js';

let fx: RestFixture;
let alice: UserObjects;
let bob: TestClient;

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

before(async () => {
  fx = await startRestFixture('tinker-rest-');
  alice = await createUserObjects(fx.server.url, 'tml-alice');
  bob = new TestClient(fx.server.url, 'tml-bob');
});

after(async () => {
  await fx.close();
});

test('training runs list with cursor, strict TrainingRun shape and pagination', async () => {
  // Two more runs in the same session.
  await alice.client.createModel(alice.sessionId, 1, 2, 1);
  await alice.client.createModel(alice.sessionId, 2, 2, 1);

  const all = await alice.client.request('GET', 'training_runs');
  assert.equal(all.status, 200);
  assert.deepEqual(all.json.cursor, { offset: 0, limit: 20, total_count: 3 });
  const run = all.json.training_runs.find((r: any) => r.training_run_id === alice.modelId);
  assert.ok(run, 'the first run is listed');
  assert.equal(run.base_model, TINY_MODEL);
  assert.equal(typeof run.model_owner, 'string');
  assert.equal(run.is_lora, true);
  assert.equal(run.lora_rank, 2);
  assert.equal(run.corrupted, false);
  assert.match(run.last_request_time, ISO);
  assert.equal(run.last_checkpoint.tinker_path, alice.weightsPath);
  assert.equal(run.last_checkpoint.checkpoint_type, 'training');
  assert.equal(run.last_sampler_checkpoint.tinker_path, alice.samplerPath);

  const p1 = await alice.client.request('GET', 'training_runs?limit=2&offset=0');
  const p2 = await alice.client.request('GET', 'training_runs?limit=2&offset=2');
  assert.equal(p1.json.training_runs.length, 2);
  assert.equal(p2.json.training_runs.length, 1);
  assert.deepEqual(p2.json.cursor, { offset: 2, limit: 2, total_count: 3 });
  const ids = [...p1.json.training_runs, ...p2.json.training_runs].map((r: any) => r.training_run_id);
  assert.equal(new Set(ids).size, 3, 'pages do not overlap');

  const one = await alice.client.request('GET', `training_runs/${encodeURIComponent(alice.modelId)}`);
  assert.equal(one.status, 200);
  assert.equal(one.json.training_run_id, alice.modelId);

  const bad = await alice.client.request('GET', 'training_runs?limit=-1');
  assert.equal(bad.status, 400);
  assert.match(bad.json.error, /limit/);

  // Bob has none.
  const bobs = await bob.request('GET', 'training_runs');
  assert.deepEqual(bobs.json, { training_runs: [], cursor: { offset: 0, limit: 20, total_count: 0 } });
});

test('checkpoints of a run and of the user, with ids, types, sizes and times', async () => {
  const res = await alice.client.request('GET', `training_runs/${encodeURIComponent(alice.modelId)}/checkpoints`);
  assert.equal(res.status, 200);
  const byId = new Map(res.json.checkpoints.map((c: any) => [c.checkpoint_id, c]));
  const w: any = byId.get('weights/w1');
  const s: any = byId.get('sampler_weights/s1');
  assert.equal(w.checkpoint_type, 'training');
  assert.equal(w.tinker_path, alice.weightsPath);
  assert.ok(w.size_bytes > 0);
  assert.equal(w.public, false);
  assert.equal(w.expires_at, null);
  assert.match(w.time, ISO);
  assert.equal(s.checkpoint_type, 'sampler');
  assert.equal(res.json.cursor.total_count, 2);

  // The older route lists the same.
  const legacy = await alice.client.request('GET', `models/${encodeURIComponent(alice.modelId)}/checkpoints`);
  assert.deepEqual(legacy.json, res.json);

  const user = await alice.client.request('GET', 'checkpoints?limit=1');
  assert.equal(user.status, 200);
  assert.equal(user.json.checkpoints.length, 1);
  assert.deepEqual(user.json.cursor, { offset: 0, limit: 1, total_count: 2 });
  // Newest first: the sampler checkpoint was saved last.
  assert.equal(user.json.checkpoints[0].tinker_path, alice.samplerPath);

  const info = await alice.client.request('GET', checkpointRoute(alice.weightsPath));
  assert.equal(info.status, 200);
  assert.equal(info.json.tinker_path, alice.weightsPath);
});

test('publish makes a checkpoint readable by others, unpublish hides it again', async () => {
  const route = checkpointRoute(alice.weightsPath);
  assert.equal((await bob.request('GET', route)).status, 404);
  assert.equal((await bob.request('POST', 'weights_info', { tinker_path: alice.weightsPath })).status, 404);

  const pub = await alice.client.request('POST', `${route}/publish`);
  assert.equal(pub.status, 200);
  assert.equal((await alice.client.request('POST', `${route}/publish`)).status, 200, 'publishing twice is fine');

  const seen = await bob.request('GET', route);
  assert.equal(seen.status, 200);
  assert.equal(seen.json.public, true);
  assert.equal((await bob.request('POST', 'weights_info', { tinker_path: alice.weightsPath })).status, 200);
  const run = await bob.request('GET', `training_runs/${encodeURIComponent(alice.modelId)}?access_scope=accessible`);
  assert.equal(run.status, 200);
  assert.equal(run.json.last_checkpoint.tinker_path, alice.weightsPath);
  assert.equal(run.json.last_sampler_checkpoint, null, 'private sampler checkpoint stays hidden');
  assert.equal((await bob.request('GET', `training_runs/${encodeURIComponent(alice.modelId)}`)).status, 404, 'owned scope');
  // Readers cannot change it.
  assert.equal((await bob.request('DELETE', `${route}/publish`)).status, 404);
  assert.equal((await bob.request('DELETE', route)).status, 404);
  assert.equal((await bob.request('PUT', `${route}/ttl`, { ttl_seconds: 5 })).status, 404);

  const unpub = await alice.client.request('DELETE', `${route}/publish`);
  assert.equal(unpub.status, 200);
  assert.equal((await bob.request('GET', route)).status, 404);
});

test('ttl sets and clears the expiry; an expired checkpoint disappears', async () => {
  const route = checkpointRoute(alice.samplerPath);
  const set = await alice.client.request('PUT', `${route}/ttl`, { ttl_seconds: 3600 });
  assert.equal(set.status, 200, JSON.stringify(set.json));
  const info = await alice.client.request('GET', route);
  const expires = Date.parse(info.json.expires_at);
  assert.ok(Math.abs(expires - (Date.now() + 3600_000)) < 60_000, info.json.expires_at);

  const cleared = await alice.client.request('PUT', `${route}/ttl`, { ttl_seconds: null });
  assert.equal(cleared.status, 200);
  assert.equal((await alice.client.request('GET', route)).json.expires_at, null);

  for (const bad of [0, -5, 1.5, '60', {}]) {
    const res = await alice.client.request('PUT', `${route}/ttl`, { ttl_seconds: bad });
    assert.equal(res.status, 400, `ttl ${JSON.stringify(bad)}`);
    assert.match(res.json.error, /ttl_seconds/);
  }
  assert.equal((await alice.client.request('PUT', `${route}/ttl`, {})).status, 400);

  // A 1 s TTL: gone from listings and lookups once it passes.
  const extra = await createUserObjects(fx.server.url, 'tml-alice', { weights: 'short', sampler: 'short-s' });
  const shortRoute = checkpointRoute(extra.weightsPath);
  assert.equal((await alice.client.request('PUT', `${shortRoute}/ttl`, { ttl_seconds: 1 })).status, 200);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await alice.client.request('GET', shortRoute)).status, 404);
  const list = await alice.client.request('GET', `training_runs/${encodeURIComponent(extra.modelId)}/checkpoints`);
  assert.ok(!list.json.checkpoints.some((c: any) => c.tinker_path === extra.weightsPath));
});

test('a TTL beyond ten years is refused on every route, and a stored absurd expiry does not break listings', async () => {
  const huge = 10_000_000_000_000;
  const save = await alice.client.request('POST', 'save_weights', { model_id: alice.modelId, path: 'forever', seq_id: 100, ttl_seconds: huge });
  assert.equal(save.status, 400);
  assert.match(save.json.error, /ttl_seconds.*<= 315360000/);
  const copy = await alice.client.request('POST', 'copy_weights', { session_id: alice.sessionId, model_seq_id: 9, source_path: alice.weightsPath, ttl_seconds: huge });
  assert.equal(copy.status, 400);
  assert.match(copy.json.error, /ttl_seconds/);
  const put = await alice.client.request('PUT', `${checkpointRoute(alice.weightsPath)}/ttl`, { ttl_seconds: huge });
  assert.equal(put.status, 400);
  assert.match(put.json.error, /ttl_seconds/);

  // A row written before TTLs were bounded (or by hand) still lists, as a far-future expiry.
  const extra = await createUserObjects(fx.server.url, 'tml-alice', { weights: 'absurd', sampler: 'absurd-s' });
  const runId = extra.modelId;
  fx.server.ctx.store.checkpoints.setExpiry(runId, 'weights', 'absurd', Date.now() + huge * 1000);
  const runRoute = `training_runs/${encodeURIComponent(runId)}`;
  for (const route of ['checkpoints', 'training_runs', runRoute, `${runRoute}/checkpoints`, checkpointRoute(extra.weightsPath)]) {
    const res = await alice.client.request('GET', route);
    assert.equal(res.status, 200, `${route}: ${JSON.stringify(res.json)}`);
  }
  const listed = (await alice.client.request('GET', `${runRoute}/checkpoints`)).json.checkpoints.find((c: any) => c.tinker_path === extra.weightsPath);
  assert.equal(listed.expires_at, '9999-12-31T23:59:59.999Z');
});

test('archive: a signed link (redirect or JSON) downloads a tar of the checkpoint files', async () => {
  const route = checkpointRoute(alice.weightsPath);
  const redirect = await fetch(`${fx.server.url}/api/v1/${route}/archive`, {
    headers: { 'X-API-Key': 'tml-alice', Accept: 'application/gzip' },
    redirect: 'manual',
  });
  assert.equal(redirect.status, 302);
  const location = redirect.headers.get('location')!;
  assert.ok(location.startsWith(`${fx.server.url}/api/v1/checkpoint_archives/`), location);
  assert.ok(Date.parse(redirect.headers.get('expires')!) > Date.now());

  const asJson = await alice.client.request('GET', `${route}/archive`, undefined, { headers: { Accept: 'application/json' } });
  assert.equal(asJson.status, 200);
  assert.ok(Date.parse(asJson.json.expires) > Date.now());

  // No API key needed; the download is a tar of exactly the checkpoint's files.
  const dl = await fetch(asJson.json.url);
  assert.equal(dl.status, 200);
  assert.equal(dl.headers.get('content-type'), 'application/x-tar');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-archive-'));
  try {
    const files = await extractTar(Readable.fromWeb(dl.body as any), out);
    assert.ok(files > 0);
    const row = await alice.client.request('GET', route);
    const sourceDir = path.join(fx.dataDir, 'checkpoints', alice.modelId, 'weights', 'w1');
    const expected = fs.readdirSync(sourceDir, { recursive: true }).map(String).sort();
    const got = fs.readdirSync(out, { recursive: true }).map(String).sort();
    assert.deepEqual(got, expected);
    let total = 0;
    for (const f of expected) {
      const p = path.join(sourceDir, f);
      if (fs.statSync(p).isFile()) {
        assert.ok(fs.readFileSync(p).equals(fs.readFileSync(path.join(out, f))), `${f} is identical`);
        total += fs.statSync(p).size;
      }
    }
    assert.equal(total, row.json.size_bytes);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }

  // A tampered token is refused; other users cannot get a link to a private checkpoint.
  const url: string = asJson.json.url;
  const cut = url.lastIndexOf('/') + 1;
  const [payload, signature] = url.slice(cut).split('.') as [string, string];
  const flip = (c: string) => (c === 'A' ? 'B' : 'A');
  for (const tampered of [
    `${url.slice(0, cut)}${payload}.${signature.slice(0, -1)}${flip(signature.slice(-1))}`,
    `${url.slice(0, cut)}${payload}.${flip(signature[0]!)}${signature.slice(1)}`,
    `${url.slice(0, cut)}${flip(payload[0]!)}${payload.slice(1)}.${signature}`,
  ]) {
    assert.notEqual(tampered, asJson.json.url);
    const res = await fetch(tampered);
    assert.equal(res.status, 404, tampered);
    await res.arrayBuffer();
  }
  assert.equal((await bob.request('GET', `${route}/archive`, undefined, { headers: { Accept: 'application/json' } })).status, 404);
});

test('delete removes the record and the files; the checkpoint can no longer be loaded', async () => {
  const extra = await createUserObjects(fx.server.url, 'tml-alice', { weights: 'doomed', sampler: 'doomed-s' });
  const dir = path.join(fx.dataDir, 'checkpoints', extra.modelId, 'weights', 'doomed');
  assert.ok(fs.existsSync(dir));
  // The encoded form of the id works too.
  const del = await alice.client.request('DELETE', `training_runs/${encodeURIComponent(extra.modelId)}/checkpoints/weights%2Fdoomed`);
  assert.equal(del.status, 200, JSON.stringify(del.json));
  assert.ok(!fs.existsSync(dir), 'files are gone');
  assert.equal((await alice.client.request('GET', checkpointRoute(extra.weightsPath))).status, 404);
  assert.equal((await alice.client.request('DELETE', checkpointRoute(extra.weightsPath))).status, 404, 'second delete');
  const load = await alice.client.request('POST', 'load_weights', {
    session_id: extra.sessionId, model_seq_id: 5, base_model: TINY_MODEL, path: extra.weightsPath, optimizer: false, type: 'load_weights',
  });
  assert.equal(load.status, 404);
});

test('sessions, samplers, and clear errors for what the server does not offer', async () => {
  const list = await alice.client.request('GET', 'sessions?limit=50');
  assert.equal(list.status, 200);
  assert.ok(list.json.sessions.includes(alice.sessionId));
  const one = await alice.client.request('GET', `sessions/${alice.sessionId}`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.json.training_run_ids.slice(0, 1), [alice.modelId]);
  assert.ok(one.json.sampler_ids.includes(alice.samplerId));

  const sampler = await alice.client.request('GET', `samplers/${encodeURIComponent(alice.samplerId)}`);
  assert.deepEqual(sampler.json, { sampler_id: alice.samplerId, base_model: TINY_MODEL, model_path: null });

  const project = await alice.client.request('PUT', `sessions/${alice.sessionId}/project`, { project_id: 'proj-1' });
  assert.equal(project.status, 200);
  const inProject = await alice.client.request('GET', 'training_runs?project_id=proj-1');
  assert.equal(inProject.json.cursor.total_count, 3);
  assert.equal((await alice.client.request('GET', 'training_runs?project_id=other')).json.cursor.total_count, 0);

  for (const [method, route, what] of [
    ['GET', 'audit', /audit/],
    ['GET', 'billing/usage/events', /billing/],
  ] as const) {
    const res = await alice.client.request(method, route);
    assert.equal(res.status, 404, route);
    assert.equal(res.json.code, 'not_supported');
    assert.match(res.json.error, what);
  }
});
