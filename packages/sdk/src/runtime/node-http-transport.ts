// Requests over node:http(s) with keep-alive agents, one pool per ConnectionPool: on loopback
// about 4× faster per call than fetch, and it queues requests per host in call order.
import http from 'node:http';
import https from 'node:https';
import { TransportTimeout, type ConnectionPool, type HttpTransport, type TransportResponse } from './transport.js';

const MAX_SOCKETS: Record<ConnectionPool, number> = { requests: 64, polls: 1024, session: 4 };

export function nodeHttpTransport(): HttpTransport {
  const agents = new Map<string, http.Agent>();
  const agentFor = (secure: boolean, pool: ConnectionPool): http.Agent => {
    const key = `${secure}:${pool}`;
    let a = agents.get(key);
    if (!a) {
      const opts = { keepAlive: true, maxSockets: MAX_SOCKETS[pool] };
      a = secure ? new https.Agent(opts) : new http.Agent(opts);
      agents.set(key, a);
    }
    return a;
  };
  // Parsing the URL and validating headers one by one show up in profiles at thousands of calls
  // per second: origins are parsed once, headers go to node:http as one flat array.
  const origins = new Map<string, { lib: typeof http | typeof https; secure: boolean; hostname: string; port: string; host: string }>();
  const originOf = (url: string) => {
    const cut = url.indexOf('/', url.indexOf('//') + 2);
    const origin = cut < 0 ? url : url.slice(0, cut);
    let o = origins.get(origin);
    if (!o) {
      const u = new URL(origin);
      const secure = u.protocol === 'https:';
      // With headers given as an array node:http adds no Host header itself.
      o = { lib: secure ? https : http, secure, hostname: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, host: u.host };
      origins.set(origin, o);
    }
    return { ...o, path: cut < 0 ? '/' : url.slice(cut) };
  };
  return (url, req) =>
    new Promise<TransportResponse>((resolve, reject) => {
      const { lib, secure, hostname, port, path, host } = originOf(url);
      const agent = agentFor(secure, req.pool ?? 'requests');
      const headers: string[] = ['Host', host];
      for (const k in req.headers) headers.push(k, req.headers[k]!);
      if (req.body !== undefined) headers.push('Content-Length', String(Buffer.byteLength(req.body)));
      // A plain timer per attempt: much cheaper than AbortSignal.timeout + AbortSignal.any per request.
      const timer = setTimeout(() => r.destroy(new TransportTimeout()), req.timeoutMs);
      const r = lib.request({ method: req.method, hostname, port, path, headers: headers as unknown as http.OutgoingHttpHeaders, agent, signal: req.signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(timer);
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
          const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: out, bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) });
        });
      });
      function fail(e: Error) {
        clearTimeout(timer);
        reject(e);
      }
      r.on('error', fail);
      r.end(req.body);
    });
}
