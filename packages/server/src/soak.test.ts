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
  };
  const figures = JSON.stringify({ growthMiB: Object.fromEntries(Object.entries(growth).map(([k, v]) => [k, +(v / MiB).toFixed(1)])), perRoundMiB: +(perRound / MiB).toFixed(1) });
  // One adapter kept per round would add ~100 MiB over the second half; the allocator's drift on
  // a loaded machine has been up to ~20 MiB.
  assert.ok(growth.engine < 45 * MiB, `engine RSS grows: ${figures}`);
  assert.ok(growth.server < 20 * MiB, `server RSS grows: ${figures}`);
  // Weights expire by wall-clock time, so how many are on disk at once depends on the rounds'
  // speed; kept for good, the second half would hold more than half of all saved.
  const maxOnDisk = Math.max(...r.slice(r.length / 2).map((m) => m.ephemeral));
  assert.ok(maxOnDisk < 0.5 * r.length * perRound, `ephemeral weights accumulate: ${figures}, at most ${(maxOnDisk / MiB).toFixed(1)} MiB`);
  assert.ok(r.every((m) => m.samplerCacheBytes <= 16 * MiB), 'the engine keeps sampler weights within its budget');
  assert.equal(report.afterEnd.ephemeral, 0, 'the session ended: its ephemeral weights are deleted');
  assert.deepEqual([report.afterEnd.engineAdapters, report.afterEnd.samplerCacheBytes], [0, 0], 'and the engine holds nothing of it');
});
