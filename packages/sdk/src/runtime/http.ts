// One HTTP exchange with the Tinker server: URL building, headers, timeouts, and turning transport
// failures into the SDK's connection errors. Status codes are returned, not thrown: the callers
// (retry loops, the retrieve_future state machine) decide what each status means.
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, TinkerError, type Headers } from '../errors.js';
import { describeConnectionFailure } from './connection-failure.js';
import { TransportTimeout, type ConnectionPool, type HttpTransport } from './transport.js';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT';
  /** Relative to /api/v1/ (a leading slash or an /api/v1/ prefix is accepted too). */
  path: string;
  query?: Record<string, string | number | undefined> | undefined;
  /** JSON value, or raw bytes sent with `contentType`. */
  body?: unknown;
  contentType?: string;
  contentEncoding?: string;
  accept?: string;
  headers?: Record<string, string> | undefined;
  /** Which connection pool carries it (default: requests). */
  pool?: ConnectionPool | undefined;
  /** Send this X-API-Key instead of the client's token (the JWT exchange itself). */
  apiKey?: string | undefined;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  contentType: string;
  bytes: Uint8Array;
}

export interface HttpClientOptions {
  transport: HttpTransport;
  baseURL: string;
  defaultHeaders: Record<string, string>;
  /** The X-API-Key value (an API key or a JWT); may refresh itself. */
  authToken: () => string | Promise<string>;
}

export class HttpClient {
  constructor(private readonly opts: HttpClientOptions) {}

  get baseURL(): string {
    return this.opts.baseURL;
  }

  url(path: string, query?: HttpRequest['query']): string {
    const base = this.opts.baseURL.replace(/\/+$/, '');
    const rel = path.replace(/^\/+/, '').replace(/^api\/v1\//, '');
    const u = new URL(`${base}/api/v1/${rel}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    const token = req.apiKey ?? this.opts.authToken();
    return this.sendWithToken(req, typeof token === 'string' ? token : await token);
  }

  /** Starts the fetch synchronously when the token is at hand, which keeps send order = call order. */
  sendNow(req: HttpRequest): Promise<HttpResponse> {
    const token = req.apiKey ?? this.opts.authToken();
    return typeof token === 'string' ? this.sendWithToken(req, token) : token.then((t) => this.sendWithToken(req, t));
  }

  private async sendWithToken(req: HttpRequest, token: string): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...this.opts.defaultHeaders, 'X-API-Key': token, Accept: req.accept ?? 'application/json' };
    let body: string | Uint8Array | undefined;
    if (req.body instanceof Uint8Array) {
      body = req.body;
      headers['Content-Type'] = req.contentType ?? 'application/octet-stream';
    } else if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['Content-Type'] = 'application/json';
    }
    if (req.contentEncoding) headers['Content-Encoding'] = req.contentEncoding;
    Object.assign(headers, req.headers ?? {});

    const url = this.url(req.path, req.query);
    if (req.signal?.aborted) throw abortReason(req.signal);
    try {
      const res = await this.opts.transport(url, { pool: req.pool, method: req.method, headers, body, signal: req.signal, timeoutMs: Math.max(1, req.timeoutMs) });
      return { status: res.status, headers: res.headers, contentType: res.headers['content-type'] ?? '', bytes: res.bytes };
    } catch (e) {
      if (req.signal?.aborted) throw abortReason(req.signal);
      if (e instanceof TransportTimeout) throw new APIConnectionTimeoutError(`Request timed out after ${req.timeoutMs} ms: ${req.method} ${url}`);
      const cause = describeConnectionFailure(e);
      throw new APIConnectionError(`Connection error: ${req.method} ${url}: ${cause.message}`, { code: cause.code });
    }
  }
}

/** The error a call ends with when its signal fired: the signal's reason if it is ours, else a user abort. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof TinkerError) return r;
  return new APIUserAbortError();
}

export function parseJson(res: HttpResponse): unknown {
  if (res.bytes.length === 0) return undefined;
  const text = new TextDecoder().decode(res.bytes);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function isJsonResponse(res: HttpResponse): boolean {
  return !res.contentType.includes('application/x-protobuf');
}

/** The typed APIError for a non-2xx response. */
export function statusError(res: HttpResponse, requestId?: string): APIError {
  return APIError.fromResponse(res.status, parseJson(res), res.headers, requestId);
}
