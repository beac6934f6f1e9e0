// The byte-moving layer under HttpClient: one request in, status + headers + bytes out. The
// network thread uses node:http(s) (node-http-transport.ts); an injected fetch, and a browser's,
// is wrapped here to the same shape. Redirects are not followed by either, so a 302 (the
// checkpoint archive route) reaches the caller with its Location header.

/**
 * Connection pools, as the official SDK keeps them apart: long polls (retrieve_future may be held
 * by the server for many seconds) must not take the sockets that submits and heartbeats need.
 */
export type ConnectionPool = 'requests' | 'polls' | 'session';

export interface TransportRequest {
  pool?: ConnectionPool | undefined;
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs: number;
}

/** The attempt ran out of its `timeoutMs`. */
export class TransportTimeout extends Error {}

export interface TransportResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  bytes: Uint8Array;
}

export type HttpTransport = (url: string, req: TransportRequest) => Promise<TransportResponse>;

export function fetchTransport(fetchImpl: typeof fetch): HttpTransport {
  return async (url, req) => {
    const attempt = AbortSignal.timeout(Math.max(1, req.timeoutMs));
    const signal = req.signal ? AbortSignal.any([req.signal, attempt]) : attempt;
    let res: Response;
    try {
      res = await fetchImpl(url, { method: req.method, headers: req.headers, body: req.body, signal, redirect: 'manual' });
    } catch (e) {
      if (attempt.aborted && !req.signal?.aborted) throw new TransportTimeout();
      throw e;
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    return { status: res.status, headers, bytes };
  };
}
