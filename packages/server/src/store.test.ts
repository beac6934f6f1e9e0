/**
 * The store's durability settings and the state transitions recovery relies on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from './store.js';

function tempDb(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-store-')), 'db.sqlite');
}

test('the database uses WAL, with synchronous=FULL only when every commit must be fsynced', () => {
  const file = tempDb();
  const store = new Store(file);
  assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(store.db.pragma('synchronous', { simple: true }), 1); // NORMAL
  store.close();
  const synced = new Store(file, { syncEveryCommit: true });
  assert.equal(synced.db.pragma('synchronous', { simple: true }), 2); // FULL
  synced.close();
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});

test('recovery fails unfinished futures and loses live models, keeping finished results', () => {
  const store = new Store(':memory:');
  const base = { owner: 'u', model_id: 'm', queue_key: 'm', kind: 'forward', request_hash: 'h' };
  store.futures.insert({ ...base, request_id: 'done', seq_id: 1 }, 1);
  store.futures.complete('done', { bytes: new Uint8Array([1, 2, 3]) }, 2);
  store.futures.insert({ ...base, request_id: 'queued', seq_id: 2 }, 1);
  // A running future is pending in SQLite (running is recorded in memory only).
  store.futures.insert({ ...base, request_id: 'running', seq_id: 3 }, 1);
  store.models.insert({
    model_id: 'm', owner: 'u', session_id: 's', model_seq_id: 0, base_model: 'b', lora_rank: 4, lora_seed: null,
    train_mlp: true, train_attn: true, train_unembed: false, user_metadata: null, state: 'active', now: 1,
  });
  assert.equal(store.futures.failUnfinished('restarted', 5), 2);
  assert.equal(store.models.loseLive('restarted at 5'), 1);
  assert.deepEqual([...store.futures.get('done')!.result_bytes!], [1, 2, 3]);
  assert.equal(store.futures.get('done')!.state, 'done');
  for (const id of ['queued', 'running']) {
    const f = store.futures.get(id)!;
    assert.deepEqual([f.state, f.category, f.error], ['failed', 'server', 'restarted']);
  }
  assert.deepEqual([store.models.get('m')!.state, store.models.get('m')!.state_reason], ['lost', 'restarted at 5']);
  // A finished future cannot be completed or failed again.
  assert.equal(store.futures.complete('queued', { json: '1' }, 6), false);
  assert.equal(store.futures.deleteFinishedBefore(3), 1);
  assert.equal(store.futures.get('done'), null);
});

test('a data dir from before result_bytes existed gets the column on open', () => {
  const file = tempDb();
  const old = new Database(file);
  old.exec(`CREATE TABLE futures (request_id TEXT PRIMARY KEY, owner TEXT NOT NULL, model_id TEXT, queue_key TEXT, seq_id INTEGER,
    kind TEXT NOT NULL, request_hash TEXT NOT NULL, state TEXT NOT NULL, result_json TEXT, error TEXT, category TEXT,
    created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, ack_json TEXT)`);
  old.close();
  const store = new Store(file);
  store.futures.insert({ request_id: 'r', owner: 'u', model_id: null, queue_key: null, seq_id: null, kind: 'sample', request_hash: 'h' }, 1);
  assert.equal(store.futures.complete('r', { bytes: new Uint8Array([9]) }, 2), true);
  store.close();
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});

test('model rows are cached write-through, frozen, and roll back with their transaction', () => {
  const store = new Store(':memory:');
  const model = {
    model_id: 'm', owner: 'u', session_id: 's', model_seq_id: 0, base_model: 'b', lora_rank: 4, lora_seed: 7,
    train_mlp: true, train_attn: false, train_unembed: false, user_metadata: { a: 1 }, state: 'creating' as const, now: 10,
  };
  store.models.insert(model);
  const fromDb = () => store.db.prepare(`SELECT state, state_reason, last_request_time FROM models WHERE model_id = 'm'`).get();
  const cached = store.models.get('m')!;
  assert.ok(Object.isFrozen(cached));
  assert.throws(() => {
    (cached as { state: string }).state = 'active';
  }, TypeError);
  assert.deepEqual(
    [cached.state, cached.lora_seed, cached.train_attn, cached.user_metadata, cached.created_at, cached.last_request_time],
    ['creating', 7, false, { a: 1 }, 10, 10],
  );

  store.models.setState('m', 'active');
  store.models.touch('m', 20);
  assert.deepEqual([store.models.get('m')!.state, store.models.get('m')!.last_request_time], ['active', 20]);
  assert.deepEqual(fromDb(), { state: 'active', state_reason: null, last_request_time: 20 });

  // A transaction that throws leaves neither the database nor the cache changed.
  assert.throws(() =>
    store.transaction(() => {
      store.models.touch('m', 30);
      store.models.setState('m', 'unloaded', 'by user');
      assert.equal(store.models.get('m')!.state, 'unloaded');
      throw new Error('abort');
    }),
  );
  assert.deepEqual([store.models.get('m')!.state, store.models.get('m')!.last_request_time], ['active', 20]);
  assert.deepEqual(fromDb(), { state: 'active', state_reason: null, last_request_time: 20 });

  // A model inserted in a rolled-back transaction is not served from memory either.
  assert.throws(() =>
    store.transaction(() => {
      store.models.insert({ ...model, model_id: 'n' });
      throw new Error('abort');
    }),
  );
  assert.equal(store.models.get('n'), null);

  // An inner transaction that fails rolls back only its own steps.
  store.transaction(() => {
    store.models.touch('m', 40);
    assert.throws(() =>
      store.transaction(() => {
        store.models.setState('m', 'failed', 'inner');
        throw new Error('inner');
      }),
    );
  });
  assert.deepEqual([store.models.get('m')!.state, store.models.get('m')!.last_request_time], ['active', 40]);
  assert.deepEqual(fromDb(), { state: 'active', state_reason: null, last_request_time: 40 });

  assert.equal(store.models.loseLive('restart'), 1);
  assert.deepEqual([store.models.get('m')!.state, store.models.get('m')!.state_reason], ['lost', 'restart']);
  store.close();
});

test('rows of models that no longer hold an adapter leave the cache and are read from the database', () => {
  const store = new Store(':memory:');
  store.models.insert({
    model_id: 'm', owner: 'u', session_id: 's', model_seq_id: 0, base_model: 'b', lora_rank: 4, lora_seed: null,
    train_mlp: true, train_attn: true, train_unembed: false, user_metadata: null, state: 'active', now: 1,
  });
  store.models.setState('m', 'unloaded', 'by user');
  assert.equal(store.models.get('m')!.state_reason, 'by user');
  // Written behind the store's back: a cached row would not see it.
  store.db.prepare(`UPDATE models SET state_reason = 'changed' WHERE model_id = 'm'`).run();
  assert.equal(store.models.get('m')!.state_reason, 'changed');
  store.close();
});

test('a data dir from before ephemeral sampler lifetimes gets their columns on open', () => {
  const file = tempDb();
  const old = new Database(file);
  old.exec(`CREATE TABLE sampling_sessions (sampling_session_id TEXT PRIMARY KEY, owner TEXT NOT NULL, session_id TEXT, seq_id INTEGER,
    base_model TEXT NOT NULL, model_path TEXT, sampler_dir TEXT, ephemeral INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL)`);
  old.exec(`INSERT INTO sampling_sessions VALUES ('s:sample:0', 'u', 's', 0, 'b', NULL, '/d', 1, 5)`);
  old.close();
  const store = new Store(file);
  const row = store.samplingSessions.get('s:sample:0')!;
  assert.deepEqual([row.last_used_at, row.released_at], [5, null]);
  // Its session row is gone: its weights are due.
  assert.deepEqual(store.samplingSessions.ephemeralToRelease(0).map((r) => r.sampling_session_id), ['s:sample:0']);
  assert.equal(store.samplingSessions.release('s:sample:0', 9), true);
  assert.deepEqual(store.samplingSessions.liveEphemeralDirs(), []);
  store.close();
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});

test('a data dir from before the optimizer choice gets the column on open: its models are AdamW', () => {
  const file = tempDb();
  const old = new Database(file);
  old.exec(`CREATE TABLE models (model_id TEXT PRIMARY KEY, owner TEXT NOT NULL, session_id TEXT NOT NULL, model_seq_id INTEGER NOT NULL,
    base_model TEXT NOT NULL, lora_rank INTEGER NOT NULL, lora_seed INTEGER, train_mlp INTEGER NOT NULL, train_attn INTEGER NOT NULL,
    train_unembed INTEGER NOT NULL, user_metadata TEXT, created_at INTEGER NOT NULL, last_request_time INTEGER NOT NULL,
    state TEXT NOT NULL, state_reason TEXT)`);
  old.exec(`INSERT INTO models VALUES ('old', 'u', 's', 0, 'b', 4, NULL, 1, 1, 0, NULL, 1, 1, 'unloaded', NULL)`);
  old.close();
  const store = new Store(file);
  assert.equal(store.models.get('old')!.optimizer, 'adamw');
  store.models.insert({
    model_id: 'new', owner: 'u', session_id: 's', model_seq_id: 1, base_model: 'b', lora_rank: 4, lora_seed: null,
    train_mlp: true, train_attn: true, train_unembed: false, user_metadata: null, state: 'unloaded', optimizer: 'dimuon', now: 2,
  });
  store.close();
  const reopened = new Store(file);
  assert.deepEqual([reopened.models.get('old')!.optimizer, reopened.models.get('new')!.optimizer], ['adamw', 'dimuon']);
  reopened.close();
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});
