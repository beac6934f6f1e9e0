/**
 * Durability: the server runs as a child process, is SIGKILLed mid-run and restarted on the
 * same data dir. Completed futures stay retrievable, acknowledged checkpoints stay listed and
 * loadable, requests that were still queued fail with category "server", and a model whose
 * in-memory state died answers its next request with a clear error pointing at its last
 * checkpoint (never silently continuing from a reset adapter).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ForwardBackwardRequest } from '@tinker-ts/protocol';
import { TestClient, tinyBatch } from './testkit.js';

const serverModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server.js');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-restart-'));
const children: ChildProcess[] = [];

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(`${dataDir}-launch.mjs`, { force: true });
});

/** Starts the server in a child process and resolves with its URL. */
function spawnServer(): Promise<{ child: ChildProcess; url: string }> {
  const code = `
    const { startServer } = await import(${JSON.stringify(serverModule)});
    const s = await startServer({ dataDir: ${JSON.stringify(dataDir)}, port: 0, settings: { longPollMs: 300 } });
    process.stdout.write(JSON.stringify({ url: s.url }) + '\\n');
  `;
  // A script file, not --eval, so the server process runs it like any program.
  const launcher = `${dataDir}-launch.mjs`;
  fs.writeFileSync(launcher, code);
  const child = spawn(process.execPath, [launcher], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, url: JSON.parse(line).url });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

function fb(modelId: string, seq: number, forwardOnly = false): ForwardBackwardRequest {
  return {
    forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
    model_id: modelId,
    seq_id: seq,
    forward_only: forwardOnly,
  };
}

test('after SIGKILL and restart: results, checkpoints and honest failures', async () => {
  const first = await spawnServer();
  let client = new TestClient(first.url);
  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0);

  const step = await client.forwardBackwardProto(fb(modelId, 1));
  const stepOut = await client.forwardBackwardResult(step.json.request_id);
  const optim = await client.post('optim_step', { model_id: modelId, seq_id: 2, adam_params: { learning_rate: 1e-2 } });
  await client.result(optim.request_id);
  const save = await client.post('save_weights', { model_id: modelId, path: 'before-crash', seq_id: 3 });
  const saved = await client.result(save.request_id);
  // Queued behind a gap (seq 4 never sent): still pending when the process dies.
  const stuck = await client.forwardBackwardProto(fb(modelId, 5));
  assert.equal((await client.request('POST', 'retrieve_future', { request_id: stuck.json.request_id })).json.type, 'try_again');

  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));

  const second = await spawnServer();
  client = new TestClient(second.url);

  // Completed results survive, in both encodings.
  const again = await client.forwardBackwardResult(step.json.request_id);
  assert.equal(again.metrics['loss:sum'], stepOut.metrics['loss:sum']);
  assert.deepEqual(await client.result(save.request_id), saved);

  // What was queued fails as a server-side loss, saying why.
  const stuckRes = await client.retrieveRaw(stuck.json.request_id);
  assert.equal(stuckRes.json.category, 'server');
  assert.match(stuckRes.json.error, /restarted/);

  // The model's adapter is gone: its next request says so and names the checkpoint.
  const next = await client.post('optim_step', { model_id: modelId, seq_id: 4, adam_params: {} });
  const nextRes = await client.retrieveRaw(next.request_id);
  assert.equal(nextRes.json.category, 'user');
  assert.match(nextRes.json.error, /lost its in-memory training state/);
  assert.ok(nextRes.json.error.includes(saved.path), nextRes.json.error);

  // The acknowledged checkpoint is intact and loads into a new model.
  const info = await client.post('weights_info', { tinker_path: saved.path });
  assert.equal(info.lora_rank, 4);
  const load = await client.post('load_weights', { session_id: sessionId, model_seq_id: 1, path: saved.path, optimizer: true });
  const loaded = await client.result(load.request_id);
  const probe = await client.forwardBackwardProto(fb(loaded.model_id, 1, true));
  const loss = (await client.forwardBackwardResult(probe.json.request_id)).metrics['loss:sum']!;
  assert.ok(loss < stepOut.metrics['loss:sum']!, 'the optimizer step saved before the crash is in the checkpoint');

  second.child.kill('SIGTERM');
});
