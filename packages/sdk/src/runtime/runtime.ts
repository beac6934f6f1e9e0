// The caller's side of the SDK runtime. Calls become messages to the network thread (a
// worker_thread running NetworkCore); answers settle APIFutures. result() blocks with Atomics.wait
// on a counter the network thread bumps after every batch of messages, then drains the port synchronously
// with receiveMessageOnPort — so blocking never deadlocks and heartbeats keep flowing meanwhile.
import type { ClientConfigResponse, ClientDynamicConfigResponse } from '@tinker-ts/protocol';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { APIUserAbortError, TinkerError, deserializeError, serializeError } from '../errors.js';
import { APIFuture, FutureCell, type Blocker } from '../future.js';
import { isOrderedModelRequest, type Call, type FromNetwork, type RequestSpec, type SubmitSpec, type ToNetwork } from './messages.js';
import { NetworkCore } from './network-core.js';
import type { NetworkWorkerData } from './network-worker.js';
import { toNetworkSettings, type CallOptions, type ClientOptions, type Logger, type NetworkSettings, type QueueStateObserver } from './options.js';
import { sameThreadServer } from './same-thread-server.js';
import { fetchTransport } from './transport.js';
import type { ResultKind } from './wire-codec.js';

export type { CallOptions, ClientOptions, Logger, QueueStateObserver, RuntimeTiming } from './options.js';
export type { ResultKind } from './wire-codec.js';

/** Where calls go and how a blocked caller waits for answers. */
interface Transport {
  post(msg: ToNetwork): void;
  readonly blocker: Blocker;
  /** Keep the process alive (futures are pending) or not. */
  setActive(active: boolean): void;
  terminate(): Promise<void>;
}

class WorkerTransport implements Transport {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly counter: Int32Array;
  private outbox: ToNetwork[] = [];
  private terminating = false;
  readonly blocker: Blocker;

  /** `blockedReason` says why result() must not block now (undefined: it may). */
  constructor(settings: NetworkSettings, dispatch: (msg: FromNetwork) => void, blockedReason: () => string | undefined) {
    const shared = new SharedArrayBuffer(8);
    this.counter = new Int32Array(shared);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const workerData: NetworkWorkerData = { port: port2, signal: shared, settings };
    // Flags that only make sense for the main script (e.g. --input-type with -e) would break the worker.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    this.worker = new Worker(new URL('./network-worker.js', import.meta.url), { workerData, transferList: [port2], execArgv });
    this.worker.on('error', (e) => dispatch({ t: 'fatal', error: serializeError(e) }));
    let exitReported = false;
    const reportExit = (how: string) => {
      if (this.terminating || exitReported) return;
      exitReported = true;
      dispatch({ t: 'fatal', error: serializeError(new TinkerError(`the network thread exited (${how})`)) });
    };
    this.worker.on('exit', (code) => reportExit(`code ${code}`));
    const dispatchBatch = (batch: FromNetwork[]) => {
      for (const msg of batch) dispatch(msg);
    };
    this.port.on('message', dispatchBatch);
    this.setActive(false);

    const drain = (): number => {
      this.flush(); // a call made just before blocking must reach the network thread first
      let n = 0;
      for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
        n++;
        dispatchBatch(m.message as FromNetwork[]);
      }
      return n;
    };
    const counter = this.counter;
    this.blocker = {
      get unsupportedReason() {
        return blockedReason();
      },
      poll: () => void drain(),
      waitForProgress(timeoutMs: number) {
        // Read the counter before draining: a batch posted after the drain changes it, and
        // Atomics.wait then returns at once instead of sleeping through it.
        const seen = Atomics.load(counter, 0);
        if (drain() > 0) return;
        Atomics.wait(counter, 0, seen, timeoutMs);
        drain();
        // Exiting: its last messages are drained above; what is still pending fails now.
        if (Atomics.load(counter, 1) === 1) reportExit('while a caller was blocked in result()');
      },
    };
  }

  /** Calls made in one synchronous stretch go out as one batch (in call order). */
  post(msg: ToNetwork): void {
    if (msg.t === 'close') this.terminating = true; // the thread exits on its own after this: not a failure
    if (this.outbox.push(msg) === 1) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    if (this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    this.port.postMessage(batch);
  }

  setActive(active: boolean): void {
    if (active) {
      this.worker.ref();
      this.port.ref();
    } else {
      this.worker.unref();
      this.port.unref();
    }
  }

  async terminate(): Promise<void> {
    this.terminating = true;
    this.flush();
    this.port.close();
    await this.worker.terminate();
  }
}

class InlineTransport implements Transport {
  private readonly core: NetworkCore;
  readonly blocker: Blocker = {
    poll() {},
    waitForProgress() {},
    unsupportedReason:
      'result() cannot block when a custom fetch is injected: the network then runs on this thread. Use `await future` (or resultAsync()) instead.',
  };

  constructor(settings: NetworkSettings, fetchImpl: typeof fetch, dispatch: (msg: FromNetwork) => void) {
    this.core = new NetworkCore(settings, fetchTransport(fetchImpl), dispatch);
  }

  post(msg: ToNetwork): void {
    this.core.handle(msg);
  }

  setActive(): void {}

  async terminate(): Promise<void> {}
}

interface PendingCall {
  cell: FutureCell<unknown>;
  observer?: QueueStateObserver | undefined;
  detach?: (() => void) | undefined;
}

const defaultLogger: Logger = {
  warn: (msg) => console.warn(`[tinker] ${msg}`),
  info: (msg) => {
    if (/^(info|debug)$/i.test(process.env['TINKER_LOG'] ?? '')) console.info(`[tinker] ${msg}`);
  },
};

export class Runtime {
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();
  private readonly transport: Transport;
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
    this.baseURL = settings.baseURL || process.env['TINKER_BASE_URL'] || undefined;
    this.transport = opts.fetch
      ? new InlineTransport(settings, opts.fetch, dispatch)
      : new WorkerTransport(settings, dispatch, () => this.blockedReason());
  }

  /** Starts the network thread (or the inline runtime when `fetch` is injected); the server is contacted lazily. */
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

  /**
   * Fails pending calls, finishes the session on the server (best effort: a short timeout, a
   * 404 from an older server is fine), stops heartbeats, ends the network thread. Never throws.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.broken) return this.transport.terminate();
      this.transport.setActive(true);
      const closed = new Promise<void>((resolve) => (this.onClosed = resolve));
      this.transport.post({ t: 'close' });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, this.closeWaitMs)))]);
      clearTimeout(timer);
      this.failAll(new TinkerError('The client was closed'));
      this.broken ??= new TinkerError('The client was closed');
      await this.transport.terminate();
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
    const cell = new FutureCell<T>(this.transport.blocker);
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
        this.transport.post({ t: 'call', id, call, opts: { maxRetries: opts.maxRetries, headers: opts.headers } });
        this.transport.post({ t: 'abort', id });
      }
      return future;
    }
    const id = this.nextId++;
    const entry: PendingCall = { cell: cell as FutureCell<unknown>, observer: opts.onQueueState };
    if (opts.signal) {
      const signal = opts.signal;
      const onAbort = () => {
        this.settle(id, (c) => c.reject(new APIUserAbortError()));
        this.transport.post({ t: 'abort', id });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      entry.detach = () => signal.removeEventListener('abort', onAbort);
    }
    this.pending.set(id, entry);
    if (this.pending.size === 1) this.transport.setActive(true);
    this.transport.post({
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
    if (this.pending.size === 0 && !this.closing) this.transport.setActive(false);
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
        this.transport.setActive(false);
        break;
      }
    }
  }
}
