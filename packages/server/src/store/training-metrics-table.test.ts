import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Store } from '../store.js';

const record = (model_id: string, kind: 'forward_backward' | 'optim_step' | 'reported', metrics: Record<string, number>, step?: number) => ({
  model_id,
  kind,
  request_id: null,
  seq_id: null,
  metrics,
  created_at: 1,
  ...(step !== undefined ? { step } : {}),
});

test('records take the run\'s current optimizer step and read back oldest first, per run', () => {
  const store = new Store(':memory:');
  try {
    const t = store.trainingMetrics;
    t.insert(record('a', 'forward_backward', { 'loss:sum': 3 }));
    t.insert(record('a', 'forward_backward', { 'loss:sum': 1 }));
    t.insert(record('b', 'optim_step', {}));
    t.insert(record('a', 'optim_step', { grad_norm: 2 }));
    t.insert(record('a', 'forward_backward', { 'loss:sum': 2 }));
    t.insert(record('a', 'reported', { kl: 0.1 }, 7));
    t.insert(record('a', 'optim_step', {}));
    assert.equal(t.optimSteps('a'), 2);
    assert.equal(t.optimSteps('b'), 1);
    assert.equal(t.optimSteps('c'), 0);
    const { rows, total } = t.ofRun('a', 0, 100);
    assert.equal(total, 6);
    assert.deepEqual(rows.map((r) => [r.kind, r.step]), [
      ['forward_backward', 0],
      ['forward_backward', 0],
      ['optim_step', 0],
      ['forward_backward', 1],
      ['reported', 7],
      ['optim_step', 1],
    ]);
    assert.deepEqual(rows[2]!.metrics, { grad_norm: 2 });
    assert.deepEqual(t.ofRun('a', rows[3]!.id, 1).rows.map((r) => r.kind), ['reported']);
  } finally {
    store.close();
  }
});

test('a data dir from before the table gets it on open, and records survive a reopen', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-metrics-store-'));
  const file = path.join(dir, 'tinker.sqlite');
  try {
    const old = new Store(file);
    old.db.exec('DROP TABLE training_metrics');
    old.close();
    const raw = new Database(file);
    assert.deepEqual(raw.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'training_metrics'`).get(), { n: 0 });
    raw.close();
    const s1 = new Store(file);
    s1.trainingMetrics.insert(record('a', 'optim_step', { lr: 1 }));
    s1.close();
    const s2 = new Store(file);
    assert.equal(s2.trainingMetrics.optimSteps('a'), 1);
    assert.deepEqual(s2.trainingMetrics.ofRun('a', 0, 10).rows[0]!.metrics, { lr: 1 });
    s2.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a finished future keeps when the engine started on it', () => {
  const store = new Store(':memory:');
  try {
    const f = { owner: 'u', model_id: 'm', queue_key: 'm', kind: 'optim_step', request_hash: 'h' };
    store.futures.insert({ ...f, request_id: 'r1', seq_id: 1 }, 10);
    store.futures.insert({ ...f, request_id: 'r2', seq_id: 2 }, 10);
    store.futures.complete('r1', { json: '{}' }, 30, 20);
    store.futures.fail('r2', 'bad', 'user', 40, 35);
    assert.equal(store.futures.get('r1')!.started_at, 20);
    assert.equal(store.futures.get('r2')!.started_at, 35);
  } finally {
    store.close();
  }
});
