/**
 * Sessions as the server's domain knows them: the id of a sampling session, and finishing a
 * session (by the client, or by the idle reaper), which frees its models and ephemeral weights.
 */
import type { ServerContext } from '../context.js';
import { dropCustomLosses } from '../custom-losses.js';
import { releaseSessionSamplers } from '../ephemeral-samplers.js';
import { unloadModel } from './models.js';

export function samplingSessionIdOf(sessionId: string, seq: number): string {
  return `${sessionId}:sample:${seq}`;
}

/**
 * Marks a session finished and frees its models once their queued work is done, and its
 * ephemeral sampler weights (those with samples still queued at the next sweep).
 */
export function finishSession(ctx: ServerContext, sessionId: string, reason: string): void {
  ctx.store.sessions.finish(sessionId, ctx.clock());
  for (const model of ctx.store.models.ofSession(sessionId)) {
    if (model.state === 'active' || model.state === 'creating') unloadModel(ctx, model, reason);
  }
  void releaseSessionSamplers(ctx, sessionId).catch((err) => ctx.log(`could not release sampler weights of session ${sessionId}: ${String(err)}`));
  dropCustomLosses(ctx, sessionId);
}
