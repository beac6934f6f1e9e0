/**
 * The lifetime of ephemeral sampler weights (save_weights_for_sampler with a
 * sampling_session_seq_id, as `saveWeightsAndGetSamplingClient()` without a name): they live in
 * `<dataDir>/ephemeral` until their session ends or nothing has saved or sampled them for
 * `ephemeralSamplerIdleMs`. Then the record is marked released (the sampling session answers 404
 * from then on), the files are deleted and the engine forgets its loaded copy. An RL loop makes
 * a new one every iteration and never returns to the old ones, so without this the data dir and
 * the engine grow by one adapter per iteration.
 *
 * Unloading a model frees only the engine's copies of its weights: its sampling clients keep
 * working, and the engine reads the weights from disk again on their next sample.
 */
import path from 'node:path';
import type { ServerContext } from './context.js';
import type { ModelRow, SamplingSessionRow } from './store/rows.js';

/**
 * Deletes the given ephemeral weights. Ones with requests still queued are left for the next
 * sweep, so a sample already accepted never loses its weights under it.
 */
export async function releaseEphemeralSamplers(ctx: ServerContext, rows: readonly SamplingSessionRow[]): Promise<number> {
  const now = ctx.clock();
  const dirs: string[] = [];
  // One commit for all of them: a long RL session ends with hundreds.
  ctx.store.transaction(() => {
    for (const row of rows) {
      if (!row.ephemeral || ctx.queues.has(row.sampling_session_id)) continue;
      if (ctx.store.samplingSessions.release(row.sampling_session_id, now) && row.sampler_dir) dirs.push(row.sampler_dir);
    }
  });
  if (dirs.length === 0) return 0;
  const forget = ctx.engine.releaseSamplerWeights(dirs).catch((err) => ctx.log(`engine could not release sampler weights: ${String(err)}`));
  for (const dir of dirs) {
    try {
      await ctx.ephemeral.remove(dir);
    } catch (err) {
      ctx.log(`could not delete ephemeral sampler weights ${dir}: ${String(err)}`);
    }
  }
  // A run's directories go with its last weights, unless the model may still save more.
  for (const runId of new Set(dirs.map((d) => path.relative(ctx.ephemeral.root, d).split(path.sep)[0]!))) {
    const model = ctx.store.models.get(runId);
    if (!model || (model.state !== 'active' && model.state !== 'creating')) await ctx.ephemeral.pruneEmptyRun(runId);
  }
  await forget;
  return dirs.length;
}

/** A session ended: its ephemeral weights go now (queued ones at the next sweep). */
export function releaseSessionSamplers(ctx: ServerContext, sessionId: string): Promise<number> {
  const rows = ctx.store.samplingSessions.ofSession(sessionId).filter((s) => s.ephemeral && s.released_at === null);
  return releaseEphemeralSamplers(ctx, rows);
}

/** The periodic sweep: weights of ended sessions, and weights unused for longer than the idle limit. */
export function sweepEphemeralSamplers(ctx: ServerContext): Promise<number> {
  const idle = ctx.settings.ephemeralSamplerIdleMs;
  return releaseEphemeralSamplers(ctx, ctx.store.samplingSessions.ephemeralToRelease(idle > 0 ? ctx.clock() - idle : 0));
}

/** A model was unloaded: the engine drops its copies of the model's ephemeral weights (the files stay). */
export async function forgetModelSamplers(ctx: ServerContext, model: ModelRow): Promise<void> {
  const prefix = path.join(ctx.ephemeral.root, model.model_id) + path.sep;
  const dirs = ctx.store.samplingSessions
    .ofSession(model.session_id)
    .filter((s) => s.ephemeral && s.released_at === null && s.sampler_dir?.startsWith(prefix))
    .map((s) => s.sampler_dir!);
  if (dirs.length > 0) await ctx.engine.releaseSamplerWeights(dirs);
}

/**
 * Records a use, so that weights in use never expire. Written at most once per tenth of the idle
 * limit (and once a minute), which keeps a commit off nearly every sample's request path.
 */
export function noteEphemeralUse(ctx: ServerContext, s: SamplingSessionRow): void {
  if (ctx.settings.ephemeralSamplerIdleMs <= 0) return; // no idle limit: nothing to record
  const now = ctx.clock();
  const every = Math.min(60_000, ctx.settings.ephemeralSamplerIdleMs / 10);
  if (now - s.last_used_at >= every) ctx.store.samplingSessions.touch(s.sampling_session_id, now);
}

/** At startup: deletes ephemeral weights on disk that no live sampling session refers to. */
export async function removeOrphanEphemeralFiles(ctx: ServerContext): Promise<number> {
  const live = new Set(ctx.store.samplingSessions.liveEphemeralDirs());
  return ctx.ephemeral.removeAllExcept(live);
}
