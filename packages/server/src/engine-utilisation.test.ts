import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineUtilisation } from './engine-utilisation.js';

test('busy share counts overlapping requests once and forgets what left the last minute', () => {
  let now = 0;
  const u = new EngineUtilisation(() => now);
  now = 10_000;
  u.begin();
  now = 15_000;
  u.begin(); // overlaps the first
  now = 20_000;
  u.end();
  now = 30_000;
  u.end();
  now = 40_000;
  let r = u.report();
  assert.equal(r.window_ms, 40_000, 'younger than a minute: since the start');
  assert.equal(r.busy_fraction, 0.5);
  assert.equal(r.finished, 2);
  assert.equal(r.running, 0);
  assert.equal(r.busy_ms_total, 20_000);

  u.begin();
  now = 70_000; // window 10 s .. 70 s: busy 10–30 and 40–70
  r = u.report();
  assert.equal(r.window_ms, 60_000);
  assert.equal(r.busy_fraction, 50_000 / 60_000);
  assert.equal(r.running, 1);
  assert.equal(r.busy_ms_total, 50_000);

  u.end();
  now = 200_000;
  r = u.report();
  assert.equal(r.busy_fraction, 0);
  assert.equal(r.finished, 0);
  assert.equal(r.busy_ms_total, 50_000);
});
