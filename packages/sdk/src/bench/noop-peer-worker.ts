// A Tinker peer that does no work, on its own thread: every submit route answers a fresh
// request_id, retrieve_future answers a small result at once. Measures the SDK, not a server.
import { createServer } from 'node:http';
import { parentPort } from 'node:worker_threads';

let next = 0;
const json = (body: unknown) => Buffer.from(JSON.stringify(body));
const fixed: Record<string, Buffer> = {
  'client/config': json({}),
  'client/dynamic_config': json({}),
  create_session: json({ session_id: 'bench-session', type: 'create_session' }),
  session_heartbeat: json({ type: 'session_heartbeat' }),
  retrieve_future: json({ type: 'optim_step', metrics: { 'loss:sum': 0 } }),
  noop: json({ ok: true }),
};

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const route = (req.url ?? '').split('?')[0]!.replace(/^\/api\/v1\//, '');
    const body = fixed[route] ?? json({ request_id: `r${next++}` });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  parentPort!.postMessage(typeof addr === 'object' && addr ? addr.port : 0);
});
