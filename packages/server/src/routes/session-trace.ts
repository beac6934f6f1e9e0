/**
 * `GET /api/v1/sessions/{session_id}/trace_export`: the session's requests as a Chrome
 * trace-event JSON file (load it in Perfetto or chrome://tracing); see session-trace.ts. Owner
 * only: another user's session answers 404.
 */
import { requireSession, type ServerContext } from '../context.js';
import { defineRoute, json, type Route } from '../router.js';
import { buildSessionTrace } from '../session-trace.js';
import type { FutureRow } from '../store/rows.js';

/** Requests a trace holds at most (the oldest first); `otherData.truncated` says when cut. */
const MAX_TRACED_REQUESTS = 100_000;

export function sessionTraceRoutes(ctx: ServerContext): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/sessions/{session_id}/trace_export',
      handler: ({ user, params }) => {
        const session = requireSession(ctx, user, params.session_id!);
        const stored = ctx.store.futures.ofSession(session.session_id, MAX_TRACED_REQUESTS + 1);
        const truncated = stored.length > MAX_TRACED_REQUESTS;
        // Unfinished requests: their running state and start time are in memory.
        const rows = stored.slice(0, MAX_TRACED_REQUESTS).map((r): FutureRow => (r.state === 'pending' ? (ctx.futures.get(r.request_id) ?? r) : r));
        const trace = buildSessionTrace({
          sessionId: session.session_id,
          rows,
          polls: (id) => ctx.futures.polls.get(id),
          now: ctx.clock(),
          truncated,
        });
        return {
          kind: 'json',
          status: 200,
          value: trace,
          headers: { 'Content-Disposition': `attachment; filename="trace-${session.session_id.replace(/[^A-Za-z0-9._-]/g, '_')}.json"` },
        };
      },
    }),
  ];
}
