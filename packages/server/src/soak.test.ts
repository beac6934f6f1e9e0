/**
 * Soak: an RL-shaped loop (train step → ephemeral save_weights_for_sampler → samples) must not
 * grow the server, the engine or the data dir round after round. A short run of the soak bench's
 * loop with a small sampler cache and a short ephemeral idle limit, so that both bounds are
 * reached early; the margins are several times what a 2-core machine's noise moves RSS by, and
 * far below what one leaked adapter per round adds (~5 MiB at this rank).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak, secondHalfGrowth } from './bench/soak-bench.js';

const MiB = 1024 * 1024;

test('RSS and the data dir plateau over an RL loop, and ephemeral weights go when the session ends', { skip: process.platform !== 'linux' }, async () => {
  const report = await runSoak({
    rounds: 40,
    clients: 1,
    churn: false,
    samplesPerRound: 2,
    loraRank: 8,
    settings: { ephemeralSamplerIdleMs: 1_500 },
    sweepIntervalMs: 250,
    samplerCacheBytes: 16 * MiB,
  });
  const r = report.rounds;
  const perRound = (r[1]!.ephemeral - r[0]!.ephemeral) || r[0]!.ephemeral; // one save's size
  const growth = {
    server: secondHalfGrowth(r, (m) => m.serverRss),
    engine: secondHalfGrowth(r, (m) => m.engineRss),
    ephemeral: secondHalfGrowth(r, (m) => m.ephemeral),
  };
  const figures = JSON.stringify({ growthMiB: Object.fromEntries(Object.entries(growth).map(([k, v]) => [k, +(v / MiB).toFixed(1)])), perRoundMiB: +(perRound / MiB).toFixed(1) });
  assert.ok(growth.engine < 30 * MiB, `engine RSS grows: ${figures}`);
  assert.ok(growth.server < 20 * MiB, `server RSS grows: ${figures}`);
  assert.ok(growth.ephemeral < 5 * perRound, `ephemeral weights accumulate: ${figures}`);
  assert.ok(Math.max(...r.slice(r.length / 2).map((m) => m.ephemeral)) < 15 * perRound, `ephemeral weights accumulate: ${figures}`);
  assert.ok(r.every((m) => m.samplerCacheBytes <= 16 * MiB), 'the engine keeps sampler weights within its budget');
  assert.equal(report.afterEnd.ephemeral, 0, 'the session ended: its ephemeral weights are deleted');
  assert.deepEqual([report.afterEnd.engineAdapters, report.afterEnd.samplerCacheBytes], [0, 0], 'and the engine holds nothing of it');
});
