/**
 * Periodic cleanup. Deletes checkpoints whose TTL has passed: first the record (so an expired
 * checkpoint is never listed or loadable), then its files. Also deletes ephemeral sampler weights
 * whose session ended or that went unused (ephemeral-samplers.ts), and forgets futures finished
 * longer ago than the retention period, so the database does not grow without bound.
 */
import type { ServerContext } from './context.js';
import { sweepEphemeralSamplers } from './ephemeral-samplers.js';

export async function sweepExpiredCheckpoints(ctx: ServerContext): Promise<number> {
  let removed = 0;
  for (const row of ctx.store.checkpoints.expired(ctx.clock())) {
    ctx.store.checkpoints.delete(row.run_id, row.kind, row.name);
    try {
      await ctx.checkpoints.remove(row.path);
      if (row.kind === 'sampler_weights') await ctx.engine.releaseSamplerWeights([row.path]);
    } catch (err) {
      ctx.log(`could not delete files of expired checkpoint ${row.run_id}/${row.kind}/${row.name}: ${String(err)}`);
    }
    removed++;
  }
  return removed;
}

/** Starts the periodic sweep; returns a function that stops it. */
export function startCheckpointSweeper(ctx: ServerContext, intervalMs: number): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepExpiredCheckpoints(ctx)
      .then((n) => {
        if (n > 0) ctx.log(`deleted ${n} expired checkpoint${n === 1 ? '' : 's'}`);
        return sweepEphemeralSamplers(ctx);
      })
      .then(() => {
        ctx.store.futures.deleteFinishedBefore(ctx.clock() - ctx.settings.futureRetentionMs);
      })
      .catch((err) => ctx.log(`checkpoint sweep failed: ${String(err)}`))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
