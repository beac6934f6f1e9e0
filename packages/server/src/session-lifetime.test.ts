/**
 * Session lifetime: finishing a session unloads its models after their queued work; a session
 * whose client vanished (no heartbeat, no requests) is finished by the server; heartbeats keep
 * a session alive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ForwardBackwardRequest } from '@tinker-ts/protocol';
import { startServer } from './server.js';
import { TestClient, tinyBatch } from './testkit.js';

function forward(modelId: string, seq: number): ForwardBackwardRequest {
  return {
    forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
    model_id: modelId,
    seq_id: seq,
    forward_only: true,
  };
}

test('finished and abandoned sessions release their models; heartbeats keep them', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-sessions-'));
  const server = await startServer({ dataDir, port: 0, sweepIntervalMs: 50, settings: { sessionIdleTimeoutMs: 1500, longPollMs: 200 } });
  try {
    const client = new TestClient(server.url);
    const kept = await client.createSession();
    const beat = setInterval(() => void client.post('session_heartbeat', { session_id: kept }).catch(() => {}), 100);
    const keptModel = await client.createModel(kept, 0); // also loads the base model once

    const finished = await client.createSession();
    const finishedModel = await client.createModel(finished, 0);
    const queued = await client.forwardBackwardProto(forward(finishedModel, 1));
    assert.equal((await client.post(`sessions/${finished}/finish`, {})).status, 'finished');
    await client.forwardBackwardResult(queued.json.request_id); // queued work still completes
    const after = await client.forwardBackwardProto(forward(finishedModel, 2));
    assert.match((await client.retrieveRaw(after.json.request_id)).json.error, /unloaded \(its session was finished\)/);

    const abandoned = await client.createSession();
    const abandonedModel = await client.createModel(abandoned, 0);
    const deadline = Date.now() + 15_000;
    while (server.ctx.store.models.get(abandonedModel)!.state !== 'unloaded' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    clearInterval(beat);
    assert.equal(server.ctx.store.models.get(abandonedModel)!.state, 'unloaded');
    assert.match(server.ctx.store.models.get(abandonedModel)!.state_reason!, /no heartbeat/);
    assert.equal(server.ctx.store.models.get(keptModel)!.state, 'active');
    const alive = await client.forwardBackwardProto(forward(keptModel, 1));
    await client.forwardBackwardResult(alive.json.request_id);
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
