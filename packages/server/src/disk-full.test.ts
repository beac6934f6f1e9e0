/**
 * A full disk while requests finish: the database refuses the final rows (SQLite's own
 * SQLITE_FULL, from a page limit set on the server's database: the same error a full file system
 * gives, without needing one). Every future still reaches a state the client can read, a save
 * that cannot be recorded fails cleanly and leaves the files as the records describe, and once
 * there is room again every outcome is in the database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeForwardBackwardOutput, type ForwardBackwardRequest } from '@tinker-ts/protocol';
import { startServer } from './server.js';
import { nextTokenDatum, TestClient } from './testkit.js';

/**
 * Uses up every page the database may have and the room left in the pages of the futures and
 * checkpoints tables: later writes there need a page and fail with SQLITE_FULL.
 */
function fillDatabase(db: import('better-sqlite3').Database): void {
  const pages = db.pragma('page_count', { simple: true }) as number;
  db.pragma(`max_page_count = ${pages + 4}`);
  let n = 0;
  const fillers = [
    db.prepare(`INSERT INTO futures (request_id, owner, kind, request_hash, state, created_at, finished_at) VALUES (?, 'filler', 'filler', ?, 'done', 0, 0)`),
    db.prepare(`INSERT INTO checkpoints (run_id, kind, name, owner, path, size_bytes, created_at) VALUES (?, 'weights', 'filler', 'filler', ?, 0, 0)`),
  ];
  for (const insert of fillers) {
    for (let size = 16 * 1024; size >= 1; size = Math.floor(size / 2)) {
      for (;;) {
        try {
          insert.run(`filler-${n++}`, 'x'.repeat(size));
        } catch (err) {
          assert.equal((err as { code?: string }).code, 'SQLITE_FULL');
          break;
        }
      }
    }
  }
}

function freeDatabase(db: import('better-sqlite3').Database): void {
  db.pragma('max_page_count = 1073741823');
  db.exec(`DELETE FROM futures WHERE owner = 'filler'; DELETE FROM checkpoints WHERE owner = 'filler'`);
}

test('outcomes refused by a full disk are served from memory, saves fail cleanly, and all is written once there is room', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-disk-full-'));
  const lines: string[] = [];
  const server = await startServer({ dataDir, port: 0, settings: { longPollMs: 200, walCheckpointIntervalMs: 0 }, log: (l) => lines.push(l) });
  const { store, queues } = server.ctx;
  try {
    const client = new TestClient(server.url);
    const sessionId = await client.createSession();
    const modelId = await client.createModel(sessionId, 0);
    const kept = await client.result((await client.post('save_weights', { model_id: modelId, path: 'kept', seq_id: 1 })).request_id);
    const keptDir = path.join(dataDir, 'checkpoints', modelId, 'weights', 'kept');
    const keptRow = store.checkpoints.get(modelId, 'weights', 'kept');
    const keptState = fs.readFileSync(path.join(keptDir, 'training_state.json'), 'utf8');

    // Acknowledged while there is room, held back behind seq_id 2, finished once the disk is full.
    // The datum is long enough that its result needs new database pages.
    const tokens = Array.from({ length: 1200 }, (_, i) => (i * 7919) % 5000);
    const fbReq: ForwardBackwardRequest = {
      forward_backward_input: { data: [nextTokenDatum(tokens)], loss_fn: 'cross_entropy', loss_fn_config: null },
      model_id: modelId,
      seq_id: 3,
      forward_only: false,
    };
    const fb = (await client.forwardBackwardProto(fbReq)).json.request_id as string;
    const overwrite = (await client.post('save_weights', { model_id: modelId, path: 'kept', seq_id: 4, overwrite: true })).request_id as string;
    const fresh = (await client.post('save_weights', { model_id: modelId, path: 'fresh', seq_id: 5 })).request_id as string;

    fillDatabase(store.db);
    queues.skip(modelId, 2);

    // The forward_backward ran: its result is served although the database could not take it.
    const served = await client.retrieveRaw(fb, { protobuf: true, timeoutMs: 20_000 });
    assert.match(served.contentType, /protobuf/, Buffer.from(served.body).toString('utf8'));
    const out = decodeForwardBackwardOutput(served.body);
    assert.ok(Number.isFinite(out.metrics['loss:sum']));
    // The saves fail as the server's fault, saying why; nothing of them is listed or left on disk.
    for (const id of [overwrite, fresh]) {
      const res = await client.retrieveRaw(id, { timeoutMs: 20_000 });
      assert.equal(res.json.category, 'server', JSON.stringify(res.json));
      assert.match(res.json.error, /could not be recorded .*full.*it was not saved/);
    }
    assert.equal(fs.existsSync(path.join(dataDir, 'checkpoints', modelId, 'weights', 'fresh')), false);
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'checkpoints', modelId, 'weights')), ['kept']);
    assert.equal(fs.readFileSync(path.join(keptDir, 'training_state.json'), 'utf8'), keptState, 'the replaced checkpoint is back');
    assert.deepEqual(store.checkpoints.get(modelId, 'weights', 'kept'), keptRow);
    assert.equal(store.checkpoints.get(modelId, 'weights', 'fresh'), null);
    assert.ok(lines.some((l) => /could not record the outcome of .*database or disk is full/.test(l)), lines.join('\n'));

    // Room again: every outcome reaches the database, unchanged.
    freeDatabase(store.db);
    const deadline = Date.now() + 15_000;
    while (server.ctx.futures.unwrittenCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(server.ctx.futures.unwrittenCount, 0);
    assert.equal(store.futures.get(fb)!.state, 'done');
    assert.deepEqual((await client.forwardBackwardResult(fb)).metrics, out.metrics);
    assert.deepEqual([store.futures.get(overwrite)!.state, store.futures.get(overwrite)!.category], ['failed', 'server']);

    // And the model goes on: a save now succeeds and the old checkpoint still loads.
    const after = await client.result((await client.post('save_weights', { model_id: modelId, path: 'after', seq_id: 6 })).request_id);
    assert.ok(store.checkpoints.get(modelId, 'weights', 'after'));
    const load = await client.post('load_weights', { session_id: sessionId, model_seq_id: 1, path: kept.path, optimizer: true });
    await client.result(load.request_id);
    assert.ok(after.path);
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
