// The thread of the scripted test server (see fake-peer.ts).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import type { PeerScript, RecordedRequest, ScriptedResponse } from './fake-peer.js';

const script = workerData as PeerScript;
const queues = new Map<string, ScriptedResponse[]>(Object.entries(script.routes ?? {}).map(([k, v]) => [k, [...v]]));
const log: RecordedRequest[] = [];
let sessionCount = 0;

const builtIn: Record<string, () => ScriptedResponse> = {
  'client/config': () => ({ body: {} }),
  'client/dynamic_config': () => ({ body: {} }),
  create_session: () => ({ body: { session_id: `session-${++sessionCount}`, type: 'create_session' } }),
  session_heartbeat: () => ({ body: { type: 'session_heartbeat' } }),
};

function next(route: string): ScriptedResponse {
  const q = queues.get(route);
  if (q && q.length > 0) return q.shift()!;
  const d = script.defaults?.[route];
  if (d) return d;
  const b = builtIn[route];
  if (b) return b();
  return { status: 404, body: { detail: `no scripted response for ${route}` } };
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  const url = req.url ?? '';
  const route = url.split('?')[0]!.replace(/^\/api\/v1\//, '');
  let json: unknown;
  if ((req.headers['content-type'] ?? '').includes('json') && raw.length) {
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {}
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
  log.push({ method: req.method ?? '', route, url, headers, json, bytes: [...raw], at: Date.now() });

  const r = next(route);
  if (r.delayMs) await new Promise((ok) => setTimeout(ok, r.delayMs));
  let body: Buffer;
  let contentType = r.contentType;
  if (r.bytes) body = Buffer.from(r.bytes);
  else if (r.body === undefined) body = Buffer.alloc(0);
  else if (typeof r.body === 'string') body = Buffer.from(r.body);
  else {
    let value = r.body;
    if (r.echoRequestId && json && typeof json === 'object') value = { ...(value as object), request_id: (json as { request_id?: unknown }).request_id };
    body = Buffer.from(JSON.stringify(value));
    contentType ??= 'application/json';
  }
  res.writeHead(r.status ?? 200, { ...(contentType ? { 'content-type': contentType } : {}), 'content-length': String(body.length), ...(r.headers ?? {}) });
  res.end(body);
}

const server = createServer((req, res) => {
  handle(req, res).catch((e) => {
    res.writeHead(500);
    res.end(String(e));
  });
});
server.keepAliveTimeout = 60_000;

parentPort!.on('message', (m: { t: string; id: number; route?: string; responses?: ScriptedResponse[] }) => {
  switch (m.t) {
    case 'listen':
      server.listen(0, '127.0.0.1', () => {
        const addr = server.address();
        parentPort!.postMessage({ id: m.id, value: typeof addr === 'object' && addr ? addr.port : 0 });
      });
      break;
    case 'requests':
      parentPort!.postMessage({ id: m.id, value: log });
      break;
    case 'push': {
      const q = queues.get(m.route!) ?? [];
      q.push(...(m.responses ?? []));
      queues.set(m.route!, q);
      parentPort!.postMessage({ id: m.id, value: undefined });
      break;
    }
    case 'close':
      server.closeAllConnections();
      server.close(() => parentPort!.postMessage({ id: m.id, value: undefined }));
      break;
  }
});
