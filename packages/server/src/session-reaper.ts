/**
 * Finishes sessions whose client went away (no heartbeat and no model request for
 * `sessionIdleTimeoutMs`), unloading their models after any queued work.
 */
import type { ServerContext } from './context.js';
import { finishSession } from './domain/sessions.js';

export function reapIdleSessions(ctx: ServerContext): number {
  const timeout = ctx.settings.sessionIdleTimeoutMs;
  if (timeout <= 0) return 0;
  const idle = ctx.store.sessions.idle(ctx.clock() - timeout);
  for (const s of idle) {
    finishSession(ctx, s.session_id, `its session sent no heartbeat or request for ${Math.round(timeout / 1000)} s`);
  }
  return idle.length;
}

/** Starts the periodic check; returns a function that stops it. */
export function startSessionReaper(ctx: ServerContext, intervalMs: number): () => void {
  const timer = setInterval(() => {
    try {
      const n = reapIdleSessions(ctx);
      if (n > 0) ctx.log(`finished ${n} idle session${n === 1 ? '' : 's'} and unloaded their models`);
    } catch (err) {
      ctx.log(`session reaper failed: ${String(err)}`);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
