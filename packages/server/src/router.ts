/**
 * A small router over node:http. Each route declares its method, path (with `{param}`
 * segments), how its body is validated, and its handler; the router does everything in
 * between in one place: matching (404 / 405), authentication (401), body reading with limits
 * and zstd, JSON or protobuf decoding, validation (400 naming the field), and turning every
 * thrown error into a JSON `{error, ...}` response. A handler can never crash the process.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { TinkerError } from '@tinker-ts/protocol';
import { discardRest, readBody, type BodyLimit } from './body.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from './limits.js';
import {
  BadRequestError,
  MethodNotAllowedError,
  NotFoundError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  asTinkerError,
  httpAnswerOf,
} from './errors.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';

/** Validates a decoded JSON body; throws ValidationError (→ 400) on bad input. */
export type JsonBodyParser<B> = (value: unknown) => B;
/** Decodes and validates a protobuf body; throws ProtocolError/ValidationError (→ 400). */
export type ProtobufBodyParser<B> = (bytes: Uint8Array) => B;

export interface RequestContext<B> {
  /** The authenticated user (owner of everything this request touches). */
  user: string;
  body: B;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** How the body arrived. */
  bodyFormat: 'json' | 'protobuf' | 'none';
  /** Whether the client lists this media type in Accept. */
  accepts(mediaType: string): boolean;
  /** Aborted when the client goes away; long polls stop waiting. */
  signal: AbortSignal;
}

export type Reply =
  | { kind: 'json'; status: number; value: unknown; headers?: Record<string, string> }
  | { kind: 'bytes'; status: number; contentType: string; bytes: Uint8Array }
  /** A body written piece by piece (e.g. a checkpoint archive); `headers` include Content-Type. */
  | { kind: 'stream'; status: number; headers: Record<string, string>; write(res: ServerResponse): Promise<void> };

export function json(value: unknown, status = 200): Reply {
  return { kind: 'json', status, value };
}

export function bytes(data: Uint8Array, contentType: string, status = 200): Reply {
  return { kind: 'bytes', status, contentType, bytes: data };
}

export interface RouteDef<B = unknown> {
  method: HttpMethod;
  /** e.g. `/api/v1/training_runs/{run_id}/checkpoints`. */
  path: string;
  /** Default true: the X-API-Key must map to a user. */
  auth?: boolean;
  /** Validator for JSON bodies. Routes without one ignore the body. */
  body?: JsonBodyParser<B>;
  /** If set, `Content-Type: application/x-protobuf` bodies are accepted and decoded by it. */
  protobuf?: ProtobufBodyParser<B>;
  /**
   * 'data' for the routes that carry training data or prompts (forward, forward_backward,
   * asample): they get the large body limits; every other route the small ones.
   */
  bodyLimit?: 'data';
  /**
   * Called when the request is refused with a 4xx — by body validation or by the handler —
   * with the body as far as it was decoded (raw JSON, or the decoded protobuf body).
   */
  onRefused?(user: string, raw: unknown): void;
  /**
   * The body of this route's error answers, for routes that speak another API's error shape
   * (OpenAI's, Anthropic's). Default: `{error, code, ...details}`.
   */
  errorBody?(err: RouteError): unknown;
  handler(ctx: RequestContext<B>): Promise<Reply> | Reply;
}

/** An error answer before it is shaped into a body. */
export interface RouteError {
  status: number;
  code: string;
  message: string;
  /** The request field at fault, when known. */
  field?: string;
}

/** A route as the router keeps it: its body type is known only to its own parser and handler. */
export type Route = RouteDef<unknown>;

/**
 * Declares a route: its body type is what its parsers return, and the handler sees exactly that
 * type (the schema at the route is the handler's type).
 */
export function defineRoute<B>(def: RouteDef<B>): Route {
  return def as RouteDef<unknown>;
}

/** Maps an X-API-Key to its user, or null if the key is not accepted. */
export type Authenticator = (apiKey: string | undefined) => string | null;

interface CompiledRoute {
  def: Route;
  segments: Array<{ literal: string } | { param: string }>;
}

export interface RouterOptions {
  authenticate: Authenticator;
  limits?: Partial<RequestLimits>;
  log?: (line: string) => void;
}

function compile(def: Route): CompiledRoute {
  const segments = def.path
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => (s.startsWith('{') && s.endsWith('}') ? { param: s.slice(1, -1) } : { literal: s }));
  return { def, segments };
}

function matchPath(route: CompiledRoute, parts: string[]): Record<string, string> | null {
  if (route.segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = route.segments[i]!;
    if ('literal' in seg) {
      if (seg.literal !== parts[i]) return null;
    } else {
      params[seg.param] = parts[i]!;
    }
  }
  return params;
}

/** The API key of a request: `X-API-Key` as Tinker clients send it, else `Authorization: Bearer` as OpenAI clients do. */
function apiKeyOf(headers: IncomingHttpHeaders): string | undefined {
  const key = headers['x-api-key'];
  const direct = Array.isArray(key) ? key[0] : key;
  if (direct) return direct;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return bearer ? bearer[1] : undefined;
}

/** An error raised on a matched route, carried to errorReply with the route that shapes its body. */
class RouteFailure extends Error {
  constructor(override readonly cause: unknown, readonly def: Route) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

function mediaTypeOf(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

export class Router {
  private readonly routes: CompiledRoute[] = [];
  private readonly limits: RequestLimits;
  private readonly authenticate: Authenticator;
  private readonly log: (line: string) => void;

  constructor(opts: RouterOptions) {
    this.authenticate = opts.authenticate;
    this.limits = { ...DEFAULT_REQUEST_LIMITS, ...opts.limits };
    this.log = opts.log ?? (() => {});
  }

  add<B>(def: RouteDef<B>): this {
    this.routes.push(compile(def as Route));
    return this;
  }

  addAll(defs: readonly Route[]): this {
    for (const d of defs) this.add(d);
    return this;
  }

  /** The node:http request listener. Never throws; always answers. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.dispatch(req, res).catch((err) => {
      // Only reachable if writing the response itself failed.
      this.log(`response failed: ${err instanceof Error ? err.stack : String(err)}`);
      if (!res.headersSent) {
        try {
          res.statusCode = 500;
          res.end();
        } catch {
          /* connection already gone */
        }
      } else {
        res.destroy();
      }
    });
  };

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    let reply: Reply;
    try {
      reply = await this.run(req, controller.signal);
    } catch (err) {
      reply = this.errorReply(err, req);
      // The rest of a refused body (over a limit, too deep) is not read in full.
      if (!req.complete) discardRest(req, res);
      if (err instanceof MethodNotAllowedError) res.setHeader('Allow', err.allowed.join(', '));
    }
    if (res.destroyed) return;
    if (reply.kind === 'stream') {
      res.writeHead(reply.status, reply.headers);
      await reply.write(res);
    } else if (reply.kind === 'json') {
      const text = JSON.stringify(reply.value ?? null);
      res.writeHead(reply.status, {
        ...reply.headers,
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
    } else {
      res.writeHead(reply.status, {
        'Content-Type': reply.contentType,
        'Content-Length': reply.bytes.byteLength,
      });
      res.end(reply.bytes);
    }
  }

  private async run(req: IncomingMessage, signal: AbortSignal): Promise<Reply> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let parts: string[];
    try {
      parts = url.pathname
        .split('/')
        .filter((s) => s.length > 0)
        .map((s) => decodeURIComponent(s));
    } catch {
      throw new BadRequestError(`malformed URL path: ${url.pathname}`);
    }
    const method = (req.method ?? 'GET').toUpperCase();
    let matched: { route: CompiledRoute; params: Record<string, string> } | null = null;
    const allowed: string[] = [];
    for (const route of this.routes) {
      const params = matchPath(route, parts);
      if (!params) continue;
      allowed.push(route.def.method);
      if (route.def.method === method && !matched) matched = { route, params };
    }
    if (!matched) {
      if (allowed.length > 0) {
        throw new MethodNotAllowedError(`${method} is not allowed on ${url.pathname} (use ${allowed.join(', ')})`, allowed);
      }
      throw new NotFoundError(`no route ${method} ${url.pathname}`);
    }
    const def = matched.route.def;

    let user = '';
    if (def.auth !== false) {
      const apiKey = apiKeyOf(req.headers);
      if (!apiKey) throw new RouteFailure(new UnauthorizedError('missing X-API-Key header (or Authorization: Bearer <key>)'), def);
      const resolved = this.authenticate(apiKey);
      if (!resolved) throw new RouteFailure(new UnauthorizedError('invalid API key'), def);
      user = resolved;
    }

    let raw: unknown = undefined;
    try {
      return await this.parseAndHandle(req, def, url, user, matched.params, signal, (r) => (raw = r));
    } catch (err) {
      const refused = asTinkerError(err).category === 'user';
      if (refused && def.onRefused) {
        try {
          def.onRefused(user, raw);
        } catch (hookErr) {
          this.log(`refusal hook failed on ${url.pathname}: ${String(hookErr)}`);
        }
      }
      throw def.errorBody ? new RouteFailure(err, def) : err;
    }
  }

  private async parseAndHandle(
    req: IncomingMessage,
    def: Route,
    url: URL,
    user: string,
    params: Record<string, string>,
    signal: AbortSignal,
    keepRaw: (raw: unknown) => void,
  ): Promise<Reply> {
    let raw: unknown = undefined;
    let body: unknown = undefined;
    let bodyFormat: RequestContext<unknown>['bodyFormat'] = 'none';
    if (def.body || def.protobuf) {
      const mediaType = mediaTypeOf(req.headers['content-type']);
      const data = await readBody(req, this.bodyLimit(def, mediaType !== PROTOBUF_CONTENT_TYPE));
      if (mediaType === PROTOBUF_CONTENT_TYPE) {
        if (!def.protobuf) {
          throw new UnsupportedMediaTypeError(`${url.pathname} takes a JSON body, not ${PROTOBUF_CONTENT_TYPE}`);
        }
        bodyFormat = 'protobuf';
        try {
          body = def.protobuf(data);
          raw = body;
          keepRaw(raw);
        } catch (err) {
          if (err instanceof TinkerError) throw err;
          // A decoder tripping over corrupt bytes is still the sender's fault.
          throw new BadRequestError(`protobuf body could not be decoded: ${err instanceof Error ? err.message : String(err)}`);
        }
      } else {
        if (mediaType !== '' && mediaType !== 'application/json' && !mediaType.endsWith('+json')) {
          throw new UnsupportedMediaTypeError(
            `Content-Type "${mediaType}" is not supported on ${url.pathname} (use application/json${def.protobuf ? ` or ${PROTOBUF_CONTENT_TYPE}` : ''})`,
          );
        }
        if (!def.body) {
          throw new UnsupportedMediaTypeError(`${url.pathname} takes a ${PROTOBUF_CONTENT_TYPE} body`);
        }
        let value: unknown = {};
        if (data.length > 0) {
          try {
            value = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
          } catch (err) {
            throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`);
          }
        }
        bodyFormat = 'json';
        raw = value;
        keepRaw(raw);
        body = def.body(value);
      }
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      // Drain and ignore (e.g. an empty `{}` on a body-less POST).
      await readBody(req, this.bodyLimit(def, false));
    }

    const acceptHeader = (req.headers['accept'] ?? '').toString().toLowerCase();
    return await def.handler({
      user,
      body,
      params,
      query: url.searchParams,
      headers: req.headers,
      bodyFormat,
      accepts: (mediaType: string) => acceptHeader.includes(mediaType.toLowerCase()),
      signal,
    });
  }

  private bodyLimit(def: Route, json: boolean): BodyLimit {
    const data = def.bodyLimit === 'data';
    return {
      maxBytes: data ? this.limits.maxDataBodyBytes : this.limits.maxBodyBytes,
      maxInflatedBytes: data ? this.limits.maxDataDecompressedBytes : this.limits.maxDecompressedBytes,
      maxJsonDepth: json ? this.limits.maxJsonDepth : null,
    };
  }

  private errorReply(err: unknown, req: IncomingMessage): Reply {
    if (err instanceof RouteFailure) {
      const inner = this.errorReply(err.cause, req);
      if (!err.def.errorBody || inner.kind !== 'json') return inner;
      const value = inner.value as { error?: unknown; code?: unknown; field?: unknown };
      const routeError: RouteError = {
        status: inner.status,
        code: typeof value.code === 'string' ? value.code : 'error',
        message: typeof value.error === 'string' ? value.error : String(value.error),
        ...(typeof value.field === 'string' ? { field: value.field } : {}),
      };
      return json(err.def.errorBody(routeError), inner.status);
    }
    const { status, body } = httpAnswerOf(err);
    if (status >= 500) this.log(`internal error on ${req.method} ${req.url}: ${err instanceof Error ? err.stack : String(err)}`);
    return json(body, status);
  }
}
