// Everything the SDK does on the network: it receives calls as messages and answers with messages,
// so it can run on its own thread (the default) or inline on the caller's thread (injected fetch).
import { environment } from '#environment';
import { APIConnectionError, APIConnectionTimeoutError, TinkerError, serializeError, type APIError } from '../errors.js';
import { connect, type Connection } from './bootstrap.js';
import { CancelQueue } from './cancel-queue.js';
import { ModelTurns } from './model-turns.js';
import { abortReason, parseJson, statusError, type HttpRequest, type HttpResponse } from './http.js';
import { isOrderedModelRequest, type Call, type FromNetwork, type RequestSpec, type SubmitSpec, type ToNetwork, type WireCallOptions } from './messages.js';
import type { NetworkSettings } from './options.js';
import { PromiseExpired, retrieveFuture, type PollProgress } from './retrieve-future.js';
import { isRetryableError, isRetryableStatus, requestBackoffMs, retryAfterMs, sleep, submitBackoffMs } from './retry.js';
import { SendOrder, type SendSlot } from './send-order.js';
import { Session } from './session.js';
import { SessionFuturesPoller, type SampleCompletion } from './session-futures-poller.js';
import type { HttpTransport } from './transport.js';
import { compress, encodeProtoRequest } from './wire-codec.js';
import { unrefTimer } from './unref-timer.js';

const DEFAULT_REQUEST_MAX_RETRIES = 10;
/** A sampling session's n-th client (join_sampling_session) numbers its samples from n × 1e9. */
const SEQ_IDS_PER_SAMPLING_CLIENT = 1_000_000_000;
const MAX_RESUBMITS = 20;
const BILLING_LOG_INTERVAL_MS = 60_000;
const BILLING_INCIDENT_RESET_MS = 5 * 60_000;

interface CallState {
  id: number;
  label: string;
  startedAt: number;
  controller: AbortController;
  opts: WireCallOptions;
  requestId?: string | undefined;
  progress: PollProgress;
  submits: number;
  timers: NodeJS.Timeout[];
  /** Place in the send order (requests and submits without a model turn). */
  slot?: SendSlot | undefined;
  /** The model lane whose next request this one lets go once acknowledged; cleared when it has. */
  turnLane?: string | undefined;
  /** Send cancel_future when the caller abandons it after the server accepted it. */
  cancelWhenAbandoned?: boolean | undefined;
}

export class NetworkCore {
  private connecting: Promise<Connection> | undefined;
  private connection: Connection | undefined;
  private session: Promise<Session> | undefined;
  private liveSession: Session | undefined;
  private readonly calls = new Map<number, CallState>();
  private closed = false;
  /** Some HTTP response came back: from then on a connection failure means the server went away, not a wrong address. */
  private answered = false;
  private unreachableWarned = false;
  private readonly transport: HttpTransport;
  private billing: { firstAt?: number | undefined; lastLoggedAt?: number | undefined } = {};
  private readonly instanceId = crypto.randomUUID();
  private readonly sendOrder = new SendOrder();
  private readonly turns = new ModelTurns();
  /** Aborted by close(): the only thing that stops delivering a model request (see submit). */
  private readonly closing = new AbortController();
  /** Session-wide sample polls, one per (sampling session, client of it), made when a sample first waits. */
  private readonly pollers = new Map<string, SessionFuturesPoller>();
  private readonly cancels = new CancelQueue({
    send: (requestId) => this.sendCancel(requestId),
    batchSize: () => this.connection?.dynamicConfig.sample_cancel_max_batch_size ?? 64,
    report: (msg) => this.emit({ t: 'log', level: 'info', msg }),
  });

  constructor(
    private readonly settings: NetworkSettings,
    transport: HttpTransport,
    private readonly emit: (msg: FromNetwork) => void,
  ) {
    this.transport = async (url, req) => {
      const res = await transport(url, req);
      this.answered = true;
      return res;
    };
    // Every in-flight model request is delivered under this one signal (the HTTP layer adds a
    // listener per request and removes it when the request ends), so any number is legitimate.
    environment.allowManyListeners(this.closing.signal);
  }

  handle(msg: ToNetwork): void {
    switch (msg.t) {
      case 'call':
        this.start(msg.id, msg.call, msg.opts);
        break;
      case 'abort':
        this.calls.get(msg.id)?.controller.abort();
        break;
      case 'close':
        this.close();
        break;
    }
  }

  /** Heartbeats that have succeeded so far (diagnostics). */
  get heartbeats(): number {
    return this.liveSession?.heartbeats ?? 0;
  }

  /**
   * Fails pending calls, finishes the session on the server (best effort, bounded by
   * sessionFinishTimeoutMs), then stops heartbeats and timers and emits `closed`.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort(new TinkerError('The client was closed'));
    this.cancels.stop();
    for (const st of this.calls.values()) st.controller.abort(new TinkerError('The client was closed'));
    void this.finishSession().finally(() => {
      this.liveSession?.stop();
      this.connection?.stop();
      this.emit({ t: 'closed' });
    });
  }

  /** POST sessions/{id}/finish so the server frees the session's models now, not after heartbeats stop. */
  private async finishSession(): Promise<void> {
    const pending = this.session;
    if (!pending) return; // no session was ever asked for
    const timeoutMs = this.settings.timing.sessionFinishTimeoutMs;
    const deadline = AbortSignal.timeout(Math.max(1, timeoutMs));
    try {
      const session = await Promise.race([
        pending,
        new Promise<never>((_, reject) => deadline.addEventListener('abort', () => reject(new Error('timed out waiting for create_session')), { once: true })),
      ]);
      const conn = this.connection;
      if (!conn) return;
      const res = await conn.http.send({
        pool: 'session', method: 'POST', path: `sessions/${encodeURIComponent(session.id)}/finish`, body: {}, timeoutMs, signal: deadline,
      });
      // 404: a server that predates the route; the session then ends when heartbeats stop.
      if (res.status >= 300 && res.status !== 404) this.emit({ t: 'log', level: 'info', msg: `finishing session ${session.id}: HTTP ${res.status}` });
    } catch (e) {
      this.emit({ t: 'log', level: 'info', msg: `finishing the session failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  /** One best-effort cancel_future (no retries: a lost cancel only costs server work). */
  private async sendCancel(requestId: string): Promise<void> {
    const conn = this.connection;
    if (!conn || this.closed) return;
    const res = await conn.http.send({
      method: 'POST', path: 'cancel_future', body: { request_id: requestId }, timeoutMs: this.settings.timing.cancelTimeoutMs, signal: this.closing.signal,
    });
    // 404/409/410: the request finished or expired meanwhile — nothing left to cancel.
    if (res.status >= 300 && ![404, 409, 410].includes(res.status)) throw statusError(res, requestId);
  }

  /** A call the caller gave up on (abort or timeoutMs, not close): cancel it on the server if allowed. */
  private cancelAbandoned(st: CallState): void {
    if (this.closed || !st.cancelWhenAbandoned || st.requestId === undefined) return;
    if (!this.connection?.dynamicConfig.sample_cancel_enabled) return;
    this.cancels.enqueue(st.requestId);
  }

  // ---- call lifecycle ----

  private start(id: number, call: Call, opts: WireCallOptions): void {
    const st: CallState = {
      id, label: describeCall(call), startedAt: Date.now(), controller: new AbortController(), opts,
      progress: { polls: 0 }, submits: 0, timers: [],
    };
    const turn = call.op === 'submit' ? call.spec.turn : undefined;
    st.turnLane = turn?.lane;
    if (this.closed) {
      this.releaseTurn(st);
      this.emit({ t: 'reject', id, error: serializeError(new TinkerError('The client was closed')) });
      return;
    }
    this.calls.set(id, st);
    // A model's requests keep their own order (held until acknowledged); the rest leave in call order.
    if (call.op === 'request' || (call.op === 'submit' && !turn)) st.slot = this.sendOrder.reserve();
    if (opts.timeoutMs !== undefined) {
      const t = setTimeout(() => st.controller.abort(new APIConnectionTimeoutError(`${st.label} timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
      st.timers.push(t);
    }
    this.armStallWarning(st);
    // An abort (caller, timeoutMs, close) ends the call at once, whatever step it is waiting in.
    st.controller.signal.addEventListener('abort', () => {
      if (this.calls.has(id)) this.cancelAbandoned(st);
      this.finish(st, { t: 'reject', id, error: serializeError(this.callError(st, undefined)) });
    }, { once: true });
    // The turn is never released by finish(): an aborted model request is still being delivered,
    // and the model's next request must wait for it. run() settles only once delivery is over.
    this.run(st, call).then(
      (value) => {
        this.releaseTurn(st);
        this.finish(st, { t: 'resolve', id, value });
      },
      (e: unknown) => {
        this.releaseTurn(st);
        this.finish(st, { t: 'reject', id, error: serializeError(this.callError(st, e)) });
      },
    );
  }

  /** Lets the model's next request go: once per call, after the server acknowledged it or it failed. */
  private releaseTurn(st: CallState): void {
    if (st.turnLane === undefined) return;
    this.turns.acknowledge(st.turnLane);
    st.turnLane = undefined;
  }

  private finish(st: CallState, msg: FromNetwork): void {
    st.slot?.release(); // a call that failed before sending must not hold up the others
    if (!this.calls.delete(st.id)) return;
    for (const t of st.timers) clearTimeout(t);
    this.emit(msg);
  }

  private callError(st: CallState, e: unknown): unknown {
    // Whatever an aborted call was doing when the signal fired, the abort is its outcome.
    if (st.controller.signal.aborted) return abortReason(st.controller.signal);
    return e;
  }

  private armStallWarning(st: CallState): void {
    const every = this.settings.stallWarningMs;
    if (!(every > 0) || !Number.isFinite(every)) return;
    const t = setTimeout(() => {
      if (!this.calls.has(st.id)) return;
      const p = st.progress;
      const waited = ((Date.now() - st.startedAt) / 1000).toFixed(1);
      const parts = [
        `queue_state=${p.queueState ?? 'unknown'}`,
        p.queueStateReason ? `reason=${JSON.stringify(p.queueStateReason)}` : undefined,
        `polls=${p.polls}`,
        st.submits > 1 ? `submits=${st.submits}` : undefined,
        p.lastOutcome ? `last=${p.lastOutcome}` : undefined,
      ].filter(Boolean);
      const who = st.requestId ? `${st.label} (request ${st.requestId})` : st.label;
      this.emit({ t: 'log', level: 'warn', msg: `${who} still waiting after ${waited} s: ${parts.join(', ')}` });
      st.timers = st.timers.filter((x) => x !== t);
      this.armStallWarning(st);
    }, every);
    unrefTimer(t);
    st.timers.push(t);
  }

  private async run(st: CallState, call: Call): Promise<unknown> {
    const conn = await this.connect();
    // A model request is delivered even if its caller gave up (see submit).
    if (!(call.op === 'submit' && isOrderedModelRequest(call.spec))) st.controller.signal.throwIfAborted();
    switch (call.op) {
      case 'serverConfig':
        return conn.config;
      case 'dynamicConfig':
        return conn.dynamicConfig;
      case 'sessionId':
        return (await this.getSession(conn)).id;
      case 'request':
        return this.request(conn, st, call.spec);
      case 'submit':
        return this.submit(conn, st, call.spec);
    }
  }

  private connect(): Promise<Connection> {
    this.connecting ??= connect({
      settings: this.settings,
      transport: this.transport,
      warn: (msg) => this.warn(msg),
      withRetries: (fn) => this.withRetries(fn),
      resolved: (baseURL) => this.emit({ t: 'address', baseURL }),
    }).then(
      (c) => {
        this.connection = c;
        if (this.closed) c.stop();
        return c;
      },
      (e: unknown) => {
        this.connecting = undefined; // a later call may try again (e.g. once the server is up)
        this.unreachableWarned = false;
        throw e;
      },
    );
    return this.connecting;
  }

  private getSession(conn: Connection): Promise<Session> {
    this.session ??= Session.create(conn, {
      settings: this.settings,
      warn: (msg) => this.warn(msg),
      info: (msg) => this.emit({ t: 'log', level: 'info', msg }),
      withRetries: (fn) => this.withRetries(fn),
    }).then(
      (s) => {
        this.liveSession = s;
        if (this.closed) s.stop();
        return s;
      },
      (e: unknown) => {
        this.session = undefined;
        throw e;
      },
    );
    return this.session;
  }

  private warn(msg: string): void {
    this.emit({ t: 'log', level: 'warn', msg });
  }

  // ---- direct requests ----

  /** A plain request/response with the Stainless layer's retries (0.5 → 10 s backoff, Retry-After). */
  private async request(conn: Connection, st: CallState, spec: RequestSpec): Promise<unknown> {
    const maxRetries = st.opts.maxRetries ?? this.settings.maxRetries ?? DEFAULT_REQUEST_MAX_RETRIES;
    const signal = st.controller.signal;
    const headers = { ...st.opts.headers };
    if (spec.method !== 'GET') headers['X-Idempotency-Key'] ??= `tinker-ts-retry-${this.instanceId}-${st.id}`;
    const req: HttpRequest = {
      method: spec.method, path: spec.path, query: spec.query, body: spec.body, headers,
      timeoutMs: this.settings.attemptTimeoutMs, signal,
    };
    await st.slot?.turn;
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        const sending = attempt === 0 ? conn.http.sendNow(req) : conn.http.send(req);
        if (attempt === 0) st.slot?.release();
        res = await sending;
      } catch (e) {
        if (signal.aborted || !(e instanceof APIConnectionError) || attempt >= maxRetries) throw e;
        st.progress.lastOutcome = e.message;
        await sleep(requestBackoffMs(attempt, this.settings.timing.backoffUnitMs), signal);
        continue;
      }
      if (res.status < 300) return parseJson(res);
      st.progress.lastOutcome = `HTTP ${res.status}`;
      const shouldRetry = res.headers['x-should-retry'];
      const retry = shouldRetry === 'true' || (shouldRetry !== 'false' && isRetryableStatus(res.status));
      if (!retry || attempt >= maxRetries) throw statusError(res);
      await sleep(retryAfterMs(res.headers) ?? requestBackoffMs(attempt, this.settings.timing.backoffUnitMs), signal);
    }
  }

  // ---- server requests that answer with a future ----

  private async submit(conn: Connection, st: CallState, spec: SubmitSpec): Promise<unknown> {
    const signal = st.controller.signal;
    st.cancelWhenAbandoned = spec.cancelWhenAbandoned === true;
    // A numbered model request is delivered even when its caller aborts or times out (else every
    // later call of the model would wait forever for its seq_id): an abort only stops the waiting.
    // A request the server can cancel is delivered too, so that its request_id is known and the
    // cancel reaches the server, rather than cut off mid-flight with the server unsure of it.
    const cancellable = st.cancelWhenAbandoned && conn.dynamicConfig.sample_cancel_enabled;
    const deliverySignal = isOrderedModelRequest(spec) || cancellable ? this.closing.signal : signal;
    const req: HttpRequest = { method: 'POST', path: spec.path, headers: { ...st.opts.headers }, timeoutMs: this.settings.attemptTimeoutMs, signal: deliverySignal };
    if (spec.proto) {
      const encoded = encodeProtoRequest(spec.proto, spec.body);
      req.contentType = 'application/x-protobuf';
      if (conn.config.proto_compress_fwdbwd) {
        req.body = await compress(encoded);
        req.contentEncoding = 'zstd';
      } else {
        req.body = encoded;
      }
    } else {
      req.body = spec.body;
    }

    if (spec.turn) await this.turns.wait(spec.turn);
    for (;;) {
      const submittedAt = Date.now();
      st.submits++;
      let accepted: Record<string, unknown>;
      try {
        accepted = await this.postWithRetries(conn, st, req, deliverySignal);
      } finally {
        this.releaseTurn(st); // acknowledged (or given up on): the model's next request may go
      }
      const requestId = accepted['request_id'];
      if (signal.aborted && typeof requestId === 'string') {
        st.requestId = requestId;
        this.cancelAbandoned(st); // abandoned while the submit was on its way
      }
      signal.throwIfAborted();
      if (typeof requestId !== 'string') {
        throw new TinkerError(`${spec.path} answered without a request_id: ${JSON.stringify(accepted).slice(0, 200)}`);
      }
      st.requestId = requestId;
      this.emit({ t: 'requestId', id: st.id, requestId });
      // Since 0.26 the submit answer of asample carries one id per requested sample; the
      // sampling client stamps them onto the sequences, so hand them over with the result.
      const sequenceIds = accepted['sample_sequence_ids'];
      try {
        const completion = await this.waitForSessionPoll(conn, st, spec, requestId);
        if (completion?.state === 'unknown') st.progress.lastOutcome = 'retrieve_futures unavailable, polling the request';
        const result = await retrieveFuture({
          conn,
          timing: this.settings.timing,
          requestId,
          requestType: spec.requestType,
          resultKind: spec.resultKind,
          createRoundtripSec: (Date.now() - submittedAt) / 1000,
          signal,
          progress: st.progress,
          onQueueState: (state, reason) => {
            if (st.opts.observeQueueState) this.emit({ t: 'queueState', id: st.id, state, reason });
          },
          shouldPauseOnBilling: (detail) => this.shouldPauseOnBilling(detail),
          extraHeaders: st.opts.headers,
          finishedWithSize: completion?.state === 'finished' ? completion.response_payload_uncompressed_size ?? 0 : undefined,
        });
        if (Array.isArray(sequenceIds) && result !== null && typeof result === 'object' && !('sample_sequence_ids' in result)) {
          (result as Record<string, unknown>)['sample_sequence_ids'] = sequenceIds;
        }
        return result;
      } catch (e) {
        if (!(e instanceof PromiseExpired) || st.submits > MAX_RESUBMITS) throw e;
        st.progress.lastOutcome = `request ${requestId} expired (410), submitted again`;
      }
    }
  }

  /**
   * With `sample_use_retrieve_futures`, a sample waits for its sampling session's poll to report
   * it finished (undefined: the request is not a sample, or the server did not ask for this).
   */
  private async waitForSessionPoll(conn: Connection, st: CallState, spec: SubmitSpec, requestId: string): Promise<SampleCompletion | undefined> {
    if (!conn.config.sample_use_retrieve_futures || spec.resultKind !== 'SampleResponse') return undefined;
    const body = spec.body as { sampling_session_id?: unknown; seq_id?: unknown } | null;
    if (typeof body?.sampling_session_id !== 'string' || typeof body.seq_id !== 'number') return undefined;
    const clonedSamplerId = Math.floor(body.seq_id / SEQ_IDS_PER_SAMPLING_CLIENT);
    const key = `${body.sampling_session_id}\u0000${clonedSamplerId}`;
    let poller = this.pollers.get(key);
    if (!poller) {
      poller = new SessionFuturesPoller({ samplingSessionId: body.sampling_session_id, clonedSamplerId }, {
        http: conn.http,
        pollTimeoutMs: this.settings.timing.pollTimeoutMs,
        retryDelayMs: this.settings.timing.backoffUnitMs,
        closing: this.closing.signal,
        log: (msg) => this.emit({ t: 'log', level: 'info', msg }),
      });
      this.pollers.set(key, poller);
    }
    st.progress.lastOutcome = 'waiting for the sampling session poll (retrieve_futures)';
    return poller.waitFor(requestId, st.controller.signal);
  }

  /** POST with the official SDK's execute_with_retries rules: min(2^n, 30) s for up to 5 minutes. */
  private async postWithRetries(conn: Connection, st: CallState, req: HttpRequest, signal: AbortSignal): Promise<Record<string, unknown>> {
    await st.slot?.turn;
    const first = conn.http.sendNow(req);
    st.slot?.release();
    return this.withRetries(async (attempt) => {
      const res = await (attempt === 0 ? first : conn.http.send(req));
      if (res.status >= 300) {
        st.progress.lastOutcome = `HTTP ${res.status} on submit`;
        throw statusError(res);
      }
      const body = parseJson(res);
      return (body !== null && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    }, st, signal);
  }

  /** Retries `fn` on 408/409/429/5xx and connection errors (and pauses on 402 in the billing window). */
  private async withRetries<T>(fn: (attempt: number) => Promise<T>, st?: CallState, signal = st?.controller.signal): Promise<T> {
    const { backoffUnitMs, submitRetryWindowMs, connectTimeoutMs, billingPauseMs } = this.settings.timing;
    const maxRetries = st?.opts.maxRetries ?? this.settings.maxRetries;
    const start = Date.now();
    for (let attempt = 0, calls = 0; ; calls++) {
      try {
        return await fn(calls);
      } catch (e) {
        if (signal?.aborted) throw e;
        const err = e as APIError;
        if (err?.status === 402 && this.shouldPauseOnBilling(err.message)) {
          await sleep(billingPauseMs, signal);
          continue;
        }
        const elapsed = Date.now() - start;
        let windowMs = submitRetryWindowMs;
        if (e instanceof APIConnectionError) {
          if (st) st.progress.lastOutcome = e.message;
          // Nothing has ever answered: most likely a wrong address or a server that is not up.
          if (!this.answered) {
            windowMs = Math.min(windowMs, connectTimeoutMs);
            if (elapsed >= windowMs) throw neverAnsweredError(e, elapsed);
            this.warnUnreachable(e, windowMs);
          }
        }
        const retriesLeft = maxRetries === undefined || attempt < maxRetries;
        if (!isRetryableError(e) || elapsed >= windowMs || !retriesLeft) throw e;
        const wait = retryAfterMs(err.headers) ?? submitBackoffMs(attempt, backoffUnitMs);
        attempt++;
        await sleep(Math.min(wait, windowMs - elapsed), signal);
      }
    }
  }

  /** The first connection failure before the server ever answered says why, once per connection attempt. */
  private warnUnreachable(e: APIConnectionError, windowMs: number): void {
    if (this.unreachableWarned) return;
    this.unreachableWarned = true;
    this.warn(`Cannot reach the Tinker server (${e.message}); retrying for up to ${(windowMs / 1000).toFixed(0)} s (connectTimeoutMs)`);
  }

  /** 402 means "paused for billing": wait it out for up to billing_exception_max_pause_duration_sec. */
  private shouldPauseOnBilling(detail: string): boolean {
    const now = Date.now();
    const b = this.billing;
    if (b.lastLoggedAt !== undefined && now - b.lastLoggedAt > BILLING_INCIDENT_RESET_MS) this.billing = {};
    const maxPauseMs = (this.connection?.config.billing_exception_max_pause_duration_sec ?? 3600) * 1000;
    if (this.billing.firstAt !== undefined && now - this.billing.firstAt > maxPauseMs) {
      this.warn(`Paused for billing status for ${((now - this.billing.firstAt) / 1000).toFixed(0)} s, longer than allowed; giving up.`);
      return false;
    }
    if (this.billing.lastLoggedAt === undefined || now - this.billing.lastLoggedAt > BILLING_LOG_INTERVAL_MS) {
      this.billing.lastLoggedAt = now;
      this.warn(`Paused because of billing status; retrying. Server said: ${detail}`);
    }
    this.billing.firstAt ??= now;
    return true;
  }
}

/** The last connection failure, saying that the server never answered and for how long it was tried. */
function neverAnsweredError(e: APIConnectionError, elapsedMs: number): APIConnectionError {
  const message = `${e.message} (the server never answered; gave up after ${(elapsedMs / 1000).toFixed(1)} s, see connectTimeoutMs)`;
  return e instanceof APIConnectionTimeoutError ? new APIConnectionTimeoutError(message, { code: e.code }) : new APIConnectionError(message, { code: e.code });
}

function describeCall(call: Call): string {
  switch (call.op) {
    case 'request':
      return `${call.spec.method} ${call.spec.path}`;
    case 'submit':
      return `${call.spec.requestType} (POST ${call.spec.path})`;
    case 'serverConfig':
      return 'client/config';
    case 'dynamicConfig':
      return 'client/dynamic_config';
    case 'sessionId':
      return 'create_session';
  }
}
