/**
 * Cross-origin access for browser clients (the SDK's fetch runtime in a web page): for the
 * origins a server is started with (`--cors ORIGIN`, or `*` for any), requests get the
 * Access-Control-* headers and preflight OPTIONS requests are answered here, before routing.
 * Without configured origins nothing changes: browsers then refuse cross-origin calls, as they
 * should for a server that did not opt in.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Headers the SDK reads from responses (request ids, retry hints). */
const EXPOSED_HEADERS = 'Retry-After, Retry-After-Ms, X-Should-Retry, X-Request-Id';
const ALLOWED_METHODS = 'GET, POST, PUT, DELETE, OPTIONS';
const PREFLIGHT_MAX_AGE_S = '600';

/** Whether `origin` is an allowed value for `--cors`: `*` or a scheme://host[:port] origin. */
export function checkCorsOrigin(origin: string): string | null {
  if (origin === '*') return null;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `${JSON.stringify(origin)} is not an origin (expected * or scheme://host[:port], e.g. http://localhost:5173)`;
  }
  if (url.origin !== origin) return `${JSON.stringify(origin)} is not an origin: write it as ${JSON.stringify(url.origin)} (no path, no trailing slash)`;
  return null;
}

/** `handle` with CORS for `origins`; `handle` itself when there are none. */
export function withCors(handle: Handler, origins: readonly string[]): Handler {
  if (origins.length === 0) return handle;
  for (const o of origins) {
    const problem = checkCorsOrigin(o);
    if (problem) throw new RangeError(`cors: ${problem}`);
  }
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (origin !== undefined && (any || allowed.has(origin))) {
      res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
      if (!any) res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
        // Whatever the page asks to send (auth, content encoding, the SDK's own headers).
        res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? 'Authorization, Content-Type');
        res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_S);
        res.statusCode = 204;
        res.end();
        req.resume();
        return;
      }
    }
    handle(req, res);
  };
}
