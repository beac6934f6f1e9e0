// Polling retrieve_future until a server request's result is there — the state machine of
// the retrieve_future status table of the Tinker wire protocol, as the official SDK's api_future_impl.py runs it.
import { APIConnectionError, RequestFailedError, TinkerError, type RequestErrorCategory } from '../errors.js';
import type { Connection } from './bootstrap.js';
import { isJsonResponse, parseJson, statusError, type HttpResponse } from './http.js';
import { retryAfterMs, sleep } from './retry.js';
import type { RuntimeTiming } from './options.js';
import { decodeProtoResult, isProtoResultKind, type ResultKind } from './wire-codec.js';

/** The promise behind a request_id expired (410): the original request must be submitted again. */
export class PromiseExpired extends Error {}

const MAX_BARE_400_RETRIES = 3;

/** What a waiting call knows about itself, for stall warnings and progress displays. */
export interface PollProgress {
  polls: number;
  queueState?: string | undefined;
  queueStateReason?: string | undefined;
  lastOutcome?: string | undefined;
}

export interface PollContext {
  conn: Connection;
  timing: RuntimeTiming;
  requestId: string;
  requestType: string;
  resultKind: ResultKind;
  /** Seconds from the start of the submit to the server's answer (sent on the first poll). */
  createRoundtripSec: number;
  signal: AbortSignal;
  progress: PollProgress;
  onQueueState(state: string, reason: string | undefined): void;
  /** 402 handling shared across calls: true while still inside the billing pause window. */
  shouldPauseOnBilling(detail: string): boolean;
  extraHeaders?: Record<string, string> | undefined;
  /**
   * The session-wide poll already said the result is ready and how big: reserve that much of
   * the response byte budget and fetch the payload straight away (no metadata-only step).
   */
  finishedWithSize?: number | null | undefined;
}

export async function retrieveFuture(ctx: PollContext): Promise<unknown> {
  const { conn, timing, progress, signal } = ctx;
  const wantsProto = isProtoResultKind(ctx.resultKind);
  let allowMetadataOnly = true;
  let connectionRetries = 0;
  let bare400Retries = 0;
  let release: (() => void) | undefined;
  const backoff = () => Math.min(2 ** connectionRetries++, 30) * timing.backoffUnitMs;

  try {
    if (ctx.finishedWithSize != null) {
      allowMetadataOnly = false;
      release = await conn.inflightResponseBytes.acquire(ctx.finishedWithSize, signal);
    }
    for (let iteration = 0; ; iteration++) {
      const headers: Record<string, string> = {
        ...ctx.extraHeaders,
        'X-Tinker-Request-Iteration': String(iteration),
        'X-Tinker-Request-Type': ctx.requestType,
      };
      if (iteration === 0) headers['X-Tinker-Create-Promise-Roundtrip-Time'] = String(ctx.createRoundtripSec);

      let res: HttpResponse;
      try {
        res = await conn.http.send({
          pool: 'polls',
          method: 'POST',
          path: 'retrieve_future',
          body: { request_id: ctx.requestId, allow_metadata_only: allowMetadataOnly },
          accept: wantsProto ? 'application/x-protobuf' : 'application/json',
          headers,
          timeoutMs: timing.pollTimeoutMs,
          signal,
        });
      } catch (e) {
        if (signal.aborted || !(e instanceof APIConnectionError)) throw e;
        progress.lastOutcome = e.message;
        await sleep(backoff(), signal);
        continue;
      }
      progress.polls++;

      if (res.status >= 400) {
        progress.lastOutcome = `HTTP ${res.status}`;
        const status = res.status;
        if (status === 402 && ctx.shouldPauseOnBilling(describe(res))) {
          await sleep(timing.billingPauseMs, signal);
          continue;
        }
        if (status !== 429) connectionRetries = 0;
        if (status === 408) {
          // A try_again dressed as an HTTP error; its body may carry the queue state.
          const body = parseJson(res) as Record<string, unknown> | undefined;
          if (body && typeof body === 'object') {
            bare400Retries = 0;
            noteQueueState(ctx, body);
          }
          continue;
        }
        if (status >= 500) continue;
        if (status === 429) {
          await sleep(retryAfterMs(res.headers) ?? backoff(), signal);
          continue;
        }
        if (status === 410) throw new PromiseExpired(`Promise expired for request ${ctx.requestId}`);
        // An empty 400 is what a proxy sends when it drops a connection, not the server's verdict.
        if (status === 400 && res.bytes.length === 0 && bare400Retries < MAX_BARE_400_RETRIES) {
          bare400Retries++;
          continue;
        }
        throw statusError(res, ctx.requestId);
      }
      connectionRetries = 0;

      if (!isJsonResponse(res)) {
        if (!wantsProto) throw new TinkerError(`retrieve_future returned protobuf for a JSON result (${ctx.requestType}, request ${ctx.requestId})`);
        try {
          return decodeProtoResult(ctx.resultKind as Exclude<ResultKind, 'json'>, res.bytes);
        } catch (e) {
          throw new TinkerError(`Could not decode the ${ctx.resultKind} protobuf of request ${ctx.requestId}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }

      const body = parseJson(res);
      const obj = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : undefined;
      if (obj?.['type'] === 'try_again') {
        progress.lastOutcome = 'try_again';
        noteQueueState(ctx, obj);
        continue;
      }
      if (obj?.['status'] === 'complete_metadata') {
        if (!allowMetadataOnly) throw new TinkerError(`Server sent complete_metadata twice for request ${ctx.requestId}`);
        allowMetadataOnly = false;
        const size = Number(obj['response_payload_size']) || 0;
        progress.lastOutcome = `complete_metadata (${size} bytes), waiting for the response byte budget`;
        release = await conn.inflightResponseBytes.acquire(size, signal);
        continue;
      }
      if (obj && 'error' in obj) {
        const category = normalizeCategory(obj['category']);
        throw new RequestFailedError(`Request failed: ${String(obj['error'])} (request ${ctx.requestId}, ${ctx.requestType})`, {
          category,
          requestId: ctx.requestId,
        });
      }
      if (wantsProto && conn.serverClaimsProto) {
        throw new TinkerError(
          `Server returned JSON for a ${ctx.resultKind} (request ${ctx.requestId}) although it was asked for protobuf and announces protobuf support`,
        );
      }
      return body;
    }
  } finally {
    release?.();
  }
}

function noteQueueState(ctx: PollContext, body: Record<string, unknown>): void {
  const state = typeof body['queue_state'] === 'string' ? body['queue_state'] : undefined;
  const reason = typeof body['queue_state_reason'] === 'string' ? body['queue_state_reason'] : undefined;
  if (state === undefined && reason === undefined) return;
  const known = state === 'active' || state === 'paused_capacity' || state === 'paused_rate_limit' ? state : 'unknown';
  ctx.progress.queueState = known;
  ctx.progress.queueStateReason = reason;
  ctx.onQueueState(known, reason);
}

function normalizeCategory(c: unknown): RequestErrorCategory {
  const s = typeof c === 'string' ? c.toLowerCase() : '';
  return s === 'user' || s === 'server' ? s : 'unknown';
}

function describe(res: HttpResponse): string {
  const body = parseJson(res);
  return typeof body === 'string' ? body : JSON.stringify(body ?? '');
}
