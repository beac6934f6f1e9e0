// The caller's side of the SDK runtime. Calls become messages to the network side (NetworkCore,
// on its own worker thread: worker-network-link.ts; or on this thread: inline-network-link.ts);
// answers settle APIFutures. How a blocked result() waits is the link's business (its Blocker).
import type { ClientConfigResponse, ClientDynamicConfigResponse } from '@tinker-ts/protocol';
import { environment } from '#environment';
import { startNetworkLink } from '#network-link';
import { APIUserAbortError, TinkerError, deserializeError } from '../errors.js';
import { APIFuture, FutureCell } from '../future.js';
import { InlineNetworkLink } from './inline-network-link.js';
import { isOrderedModelRequest, type Call, type FromNetwork, type RequestSpec, type SubmitSpec } from './messages.js';
import type { NetworkLink } from './network-link.js';
import { toNetworkSettings, type CallOptions, type ClientOptions, type Logger, type NetworkSettings, type QueueStateObserver } from './options.js';
import { sameThreadServer } from './same-thread-server.js';
import { fetchTransport } from './transport.js';
import type { ResultKind } from './wire-codec.js';

export type { CallOptions, ClientOptions, Logger, QueueStateObserver, RuntimeTiming } from './options.js';
export type { ResultKind } from './wire-codec.js';

interface PendingCall {
  cell: FutureCell<unknown>;
  observer?: QueueStateObserver | undefined;
  detach?: (() => void) | undefined;
}

const INJECTED_FETCH_CANNOT_BLOCK =
  'result() cannot block when a custom fetch is injected: the network then runs on this thread. Use `await future` (or resultAsync()) instead.';

const defaultLogger: Logger = {
  warn: (msg) => console.warn(`[tinker] ${msg}`),
  info: (msg) => {
    if (/^(info|debug)$/i.test(environment.variable('TINKER_LOG') ?? '')) console.info(`[tinker] ${msg}`);
  },
};

export class Runtime {
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();
  private readonly link: NetworkLink;
  private readonly logger: Logger;
  private broken: Error | undefined;
  private closing: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;
  private config: APIFuture<ClientConfigResponse> | undefined;
  private session: APIFuture<string> | undefined;
  /** How long close() waits for the network side (session finish included) before cutting it off. */
  private readonly closeWaitMs: number;
  /** Where calls go: the configured URL at first, then the address the network thread resolved. */
  private baseURL: string | undefined;

  private constructor(opts: ClientOptions) {
    this.logger = opts.logger ?? defaultLogger;
    const settings = toNetworkSettings(opts);
    this.closeWaitMs = settings.timing.sessionFinishTimeoutMs + 1000;
    const dispatch = (msg: FromNetwork) => this.dispatch(msg);
    this.baseURL = settings.baseURL || environment.variable('TINKER_BASE_URL') || undefined;
    this.link = opts.fetch
      ? new InlineNetworkLink(settings, fetchTransport(opts.fetch), dispatch, INJECTED_FETCH_CANNOT_BLOCK)
      : startNetworkLink(settings, dispatch, () => this.blockedReason());
  }

  /** Starts the network side (its own thread; on this thread when `fetch` is injected or in a browser); the server is contacted lazily. */
  static create(opts: ClientOptions = {}): Runtime {
    return new Runtime(opts);
  }

  /** Direct request/response (REST routes and synchronous routes). */
  request<T>(req: RequestSpec, opts?: CallOptions): APIFuture<T> {
    return this.call<T>({ op: 'request', spec: { ...req } }, opts);
  }

  /** POSTs a route that answers {request_id}, then polls retrieve_future until the result (410 → submitted again). */
  submit<T>(req: SubmitSpec, opts?: CallOptions): APIFuture<T> {
    return this.call<T>({ op: 'submit', spec: { ...req } }, opts);
  }

  /** The server's address: as configured until the network side resolved it (after the first call). */
  get serverAddress(): string | undefined {
    return this.baseURL;
  }

  /** The server's client/config, defaults filled in. */
  serverConfig(): APIFuture<ClientConfigResponse> {
    this.config ??= this.cached(this.call<ClientConfigResponse>({ op: 'serverConfig' }), () => (this.config = undefined));
    return this.config;
  }

  /** The latest client/dynamic_config (refreshed every refresh_interval_sec), defaults filled in. */
  dynamicConfig(): APIFuture<ClientDynamicConfigResponse> {
    return this.call<ClientDynamicConfigResponse>({ op: 'dynamicConfig' });
  }

  /** The session of this runtime: created once, kept alive by heartbeats every 10 s. */
  sessionId(): APIFuture<string> {
    this.session ??= this.cached(this.call<string>({ op: 'sessionId' }), () => (this.session = undefined));
    return this.session;
  }

  /** Reports to the client's logger (console.warn by default). */
  warn(msg: string): void {
    this.logger.warn(msg);
  }

  /**
   * Fails pending calls, finishes the session on the server (best effort: a short timeout, a
   * 404 from an older server is fine), stops heartbeats, ends the network thread. Never throws.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.broken) return this.link.terminate();
      this.link.setActive(true);
      const closed = new Promise<void>((resolve) => (this.onClosed = resolve));
      this.link.post({ t: 'close' });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, this.closeWaitMs)))]);
      clearTimeout(timer);
      this.failAll(new TinkerError('The client was closed'));
      this.broken ??= new TinkerError('The client was closed');
      await this.link.terminate();
    })();
    return this.closing;
  }

  /** result() against a server on this very thread would stop the loop that has to answer it. */
  private blockedReason(): string | undefined {
    const origin = sameThreadServer(this.baseURL);
    if (origin === undefined) return undefined;
    return `result() would block forever: the Tinker server at ${origin} runs on this thread (started with startServer), ` +
      'and it answers on the event loop that result() would stop. Use `await future` (or resultAsync()) here, ' +
      'or run the server in another process (tinker-ts serve) or a worker thread.';
  }

  private cached<T>(f: APIFuture<T>, forget: () => void): APIFuture<T> {
    f.future().catch(forget); // retry bootstrap on the next call after a failure
    return f;
  }

  private call<T>(call: Call, opts: CallOptions = {}): APIFuture<T> {
    const cell = new FutureCell<T>(this.link.blocker);
    const future = APIFuture.fromCell(cell);
    if (this.broken) {
      cell.reject(this.broken);
      return future;
    }
    if (opts.signal?.aborted) {
      cell.reject(new APIUserAbortError());
      // Still delivered, unanswered: the model's later requests wait for its seq_id.
      if (call.op === 'submit' && isOrderedModelRequest(call.spec)) {
        const id = this.nextId++;
        this.link.post({ t: 'call', id, call, opts: { maxRetries: opts.maxRetries, headers: opts.headers } });
        this.link.post({ t: 'abort', id });
      }
      return future;
    }
    const id = this.nextId++;
    const entry: PendingCall = { cell: cell as FutureCell<unknown>, observer: opts.onQueueState };
    if (opts.signal) {
      const signal = opts.signal;
      const onAbort = () => {
        this.settle(id, (c) => c.reject(new APIUserAbortError()));
        this.link.post({ t: 'abort', id });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      entry.detach = () => signal.removeEventListener('abort', onAbort);
    }
    this.pending.set(id, entry);
    if (this.pending.size === 1) this.link.setActive(true);
    this.link.post({
      t: 'call',
      id,
      call,
      opts: { timeoutMs: opts.timeoutMs, maxRetries: opts.maxRetries, headers: opts.headers, observeQueueState: opts.onQueueState !== undefined },
    });
    return future;
  }

  private settle(id: number, how: (cell: FutureCell<unknown>) => void): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    entry.detach?.();
    how(entry.cell);
    if (this.pending.size === 0 && !this.closing) this.link.setActive(false);
  }

  private failAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, (c) => c.reject(error));
  }

  private dispatch(msg: FromNetwork): void {
    switch (msg.t) {
      case 'requestId':
        this.pending.get(msg.id)?.cell.setRequestId(msg.requestId);
        break;
      case 'resolve':
        this.settle(msg.id, (c) => c.resolve(msg.value));
        break;
      case 'reject':
        this.settle(msg.id, (c) => c.reject(deserializeError(msg.error)));
        break;
      case 'queueState': {
        const observer = this.pending.get(msg.id)?.observer;
        try {
          observer?.(msg.state as Parameters<QueueStateObserver>[0], msg.reason);
        } catch (e) {
          this.logger.warn(`queue state observer threw: ${e instanceof Error ? e.message : String(e)}`);
        }
        break;
      }
      case 'log':
        if (msg.level === 'warn') this.logger.warn(msg.msg);
        else this.logger.info(msg.msg);
        break;
      case 'address':
        this.baseURL = msg.baseURL;
        break;
      case 'closed':
        this.onClosed?.();
        break;
      case 'fatal': {
        const error = deserializeError(msg.error);
        this.broken = new TinkerError(`The network thread failed: ${error.message}`);
        this.logger.warn(this.broken.message);
        this.failAll(error);
        this.link.setActive(false);
        break;
      }
    }
  }
}
