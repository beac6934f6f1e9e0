import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './server.js';
import { TestClient } from './testkit.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-ephemeral-'));
  dirs.push(d);
  return d;
}

/** Every file under `dir` (recursively); none when it does not exist. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function saveEphemeral(client: TestClient, modelId: string, seqId: number, samplerSeq: number): Promise<string> {
  const fut = await client.post('save_weights_for_sampler', { model_id: modelId, seq_id: seqId, sampling_session_seq_id: samplerSeq });
  return (await client.result(fut.request_id)).sampling_session_id as string;
}

function sampleThrough(client: TestClient, samplingSessionId: string, seqId: number) {
  return client.request('POST', 'asample', {
    prompt: { chunks: [{ type: 'encoded_text', tokens: [11, 22, 33] }] },
    sampling_params: { max_tokens: 4, temperature: 0 },
    sampling_session_id: samplingSessionId,
    seq_id: seqId,
  });
}

async function sampledTokens(client: TestClient, samplingSessionId: string, seqId: number): Promise<number[]> {
  const res = await sampleThrough(client, samplingSessionId, seqId);
  assert.equal(res.status, 200, Buffer.from(res.body).toString());
  return (await client.sampleResult(res.json.request_id)).sequences[0]!.tokens;
}

async function withServer(opts: Parameters<typeof startServer>[0], fn: (server: RunningServer, client: TestClient) => Promise<void>) {
  const server = await startServer(opts);
  try {
    await fn(server, new TestClient(server.url));
  } finally {
    await server.close();
  }
}

test('ending a session deletes its ephemeral sampler weights and the engine forgets them', async () => {
  const dir = dataDir();
  await withServer({ dataDir: dir, port: 0 }, async (server, client) => {
    const sessionId = await client.createSession();
    const modelId = await client.createModel(sessionId);
    const samplers = [await saveEphemeral(client, modelId, 1, 0), await saveEphemeral(client, modelId, 2, 1)];
    for (const s of samplers) await sampledTokens(client, s, 0);
    assert.equal(filesUnder(path.join(dir, 'ephemeral')).filter((f) => f.endsWith('.safetensors')).length, 2);
    assert.equal((await server.engine.memoryInfo()).samplerCache.entries, 2);

    await client.post(`sessions/${sessionId}/finish`, {});
    await until('the ephemeral files are gone', () => fs.readdirSync(path.join(dir, 'ephemeral')).length === 0);
    await until('the engine holds nothing', async () => {
      const m = await server.engine.memoryInfo();
      return m.adapters === 0 && m.samplerCache.entries === 0;
    });
    const res = await sampleThrough(client, samplers[0]!, 1);
    assert.equal(res.status, 404);
    assert.match(res.json.error ?? res.json.detail ?? JSON.stringify(res.json), /sampler weights of sampling session .* were deleted/);
  });
});

test('unloading a model frees the engine copy of its sampler weights; sampling reloads them from disk', async () => {
  await withServer({ dataDir: dataDir(), port: 0 }, async (server, client) => {
    const sessionId = await client.createSession();
    const modelId = await client.createModel(sessionId);
    const sampler = await saveEphemeral(client, modelId, 1, 0);
    const before = await sampledTokens(client, sampler, 0);
    const unload = await client.post('unload_model', { model_id: modelId, type: 'unload_model' });
    await client.result(unload.request_id);
    assert.deepEqual(await server.engine.memoryInfo(), { adapters: 0, samplerCache: { entries: 0, bytes: 0, budgetBytes: 256 * 1024 * 1024 } });
    assert.deepEqual(await sampledTokens(client, sampler, 1), before, 'the same weights, read again');
    assert.equal((await server.engine.memoryInfo()).samplerCache.entries, 1);
  });
});

test('ephemeral sampler weights unused for the idle limit are deleted; ones in use are kept', async () => {
  const dir = dataDir();
  const settings = { ephemeralSamplerIdleMs: 1_500 };
  await withServer({ dataDir: dir, port: 0, settings, sweepIntervalMs: 100 }, async (server, client) => {
    const sessionId = await client.createSession();
    const modelId = await client.createModel(sessionId);
    const idle = await saveEphemeral(client, modelId, 1, 0);
    const used = await saveEphemeral(client, modelId, 2, 1);
    const idleRow = server.ctx.store.samplingSessions.get(idle)!;
    for (let i = 0; i < 12; i++) {
      await sampledTokens(client, used, i);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(fs.existsSync(idleRow.sampler_dir!), false, 'unused for longer than the limit');
    assert.equal((await sampleThrough(client, idle, 0)).status, 404);
    assert.ok(fs.existsSync(server.ctx.store.samplingSessions.get(used)!.sampler_dir!), 'sampled every 0.2 s: kept');
  });
});

test('at startup, ephemeral files of ended sessions and files without a sampling session are deleted', async () => {
  const dir = dataDir();
  let liveDir = '';
  let endedDir = '';
  await withServer({ dataDir: dir, port: 0 }, async (server, client) => {
    const live = await client.createSession();
    const ended = await client.createSession();
    liveDir = server.ctx.store.samplingSessions.get(await saveEphemeral(client, await client.createModel(live), 1, 0))!.sampler_dir!;
    endedDir = server.ctx.store.samplingSessions.get(await saveEphemeral(client, await client.createModel(ended), 1, 0))!.sampler_dir!;
    // As if the server had died before its sweep: the session ended, the files stayed.
    server.ctx.store.sessions.finish(ended, Date.now());
  });
  const orphan = path.join(dir, 'ephemeral', 'gone:train:0', 'sampler_weights', 'session-3');
  fs.mkdirSync(orphan, { recursive: true });
  fs.writeFileSync(path.join(orphan, 'adapter_model.safetensors'), 'x');
  await withServer({ dataDir: dir, port: 0 }, async () => {
    assert.equal(fs.existsSync(liveDir), true, 'its session may still sample from it');
    assert.equal(fs.existsSync(endedDir), false);
    assert.equal(fs.existsSync(path.dirname(path.dirname(orphan))), false);
  });
});
