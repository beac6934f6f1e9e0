/**
 * The dashboard: a small web app at `/` (static files shipped in the package's dashboard/
 * folder, nothing to build), and the one API route it needs beyond the REST surface:
 * `GET /api/v1/queue_state`, the user's requests waiting or running and how busy the engine is.
 *
 * The page itself needs no key (it holds no data); it asks for one, keeps it in localStorage
 * and sends it as X-API-Key to the same routes every client uses, so it sees exactly what
 * that key's user may see.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServerContext } from '../context.js';
import { NotFoundError } from '../errors.js';
import { bytes, defineRoute, json, type Route } from '../router.js';

/** packages/server/dashboard/, next to dist/ in the source tree and in the published package. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'charts.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

function staticFile(name: string) {
  const contentType = FILES[name];
  if (!contentType) throw new NotFoundError(`no dashboard file ${JSON.stringify(name)}`);
  let data: Buffer;
  try {
    data = fs.readFileSync(`${DASHBOARD_DIR}${name}`);
  } catch {
    throw new NotFoundError(`dashboard file ${name} is missing from this installation (${DASHBOARD_DIR})`);
  }
  return bytes(data, contentType);
}

export function dashboardRoutes(ctx: ServerContext): Route[] {
  return [
    defineRoute({ method: 'GET', path: '/', auth: false, handler: () => staticFile('index.html') }),
    defineRoute({ method: 'GET', path: '/dashboard', auth: false, handler: () => staticFile('index.html') }),
    defineRoute({ method: 'GET', path: '/dashboard/{file}', auth: false, handler: ({ params }) => staticFile(params.file!) }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/queue_state',
      handler: ({ user }) => {
        const now = ctx.clock();
        const requests = ctx.queues.list().flatMap((q) => {
          const row = ctx.futures.get(q.requestId);
          if (!row || row.owner !== user) return [];
          return [
            {
              request_id: q.requestId,
              kind: q.kind,
              queue: q.queueKey,
              model_id: row.model_id,
              seq_id: q.seqId,
              state: q.running ? 'running' : 'pending',
              age_ms: now - row.created_at,
              reason: ctx.futures.status(q.requestId)?.reason ?? null,
            },
          ];
        });
        const health = ctx.engine.health?.();
        return json({
          requests,
          engine: {
            status: health?.status ?? 'ok',
            restarts: health?.restarts ?? 0,
            calls_queued: ctx.engine.queueLength,
            ...ctx.queues.utilisation.report(),
          },
        });
      },
    }),
  ];
}
