// Messages between the caller's thread and the network thread. All plain, cloneable data.
import type { SerializedError } from '../errors.js';
import type { ModelTurn } from './model-turns.js';
import type { ProtoRequestKind, ResultKind } from './wire-codec.js';

export interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

export interface SubmitSpec {
  path: string;
  body: unknown;
  /** Sent as X-Tinker-Request-Type while polling (e.g. "ForwardBackward"). */
  requestType: string;
  resultKind: ResultKind;
  /** Send the body protobuf-encoded as this message (zstd-compressed if the server asks). */
  proto?: ProtoRequestKind;
  /**
   * When the caller abandons it (abort or timeoutMs) after the server accepted it, tell the
   * server with cancel_future — if its dynamic config has `sample_cancel_enabled`.
   */
  cancelWhenAbandoned?: boolean;
  /**
   * The request's place among its training model's requests: it is sent only after every earlier
   * one was acknowledged by the server (see model-turns.ts). Without it, calls start in call order.
   */
  turn?: ModelTurn;
}

/**
 * A training-model request numbered by seq_id. The server runs these strictly in order and waits
 * for every number, so one must reach the server even when its caller aborts: an abort only
 * stops waiting for its result.
 */
export function isOrderedModelRequest(spec: SubmitSpec): boolean {
  const body = spec.body as { model_id?: unknown; seq_id?: unknown } | null;
  return typeof body === 'object' && body !== null && typeof body.model_id === 'string' && typeof body.seq_id === 'number';
}

export type Call =
  | { op: 'request'; spec: RequestSpec }
  | { op: 'submit'; spec: SubmitSpec }
  | { op: 'serverConfig' }
  | { op: 'dynamicConfig' }
  | { op: 'sessionId' };

/** CallOptions without what cannot cross threads (the signal and the observer stay behind). */
export interface WireCallOptions {
  timeoutMs?: number | undefined;
  maxRetries?: number | undefined;
  headers?: Record<string, string> | undefined;
  observeQueueState?: boolean | undefined;
}

export type ToNetwork =
  | { t: 'call'; id: number; call: Call; opts: WireCallOptions }
  | { t: 'abort'; id: number }
  | { t: 'close' };

/** Messages travel in batches (arrays), one postMessage per event-loop turn. */
export type FromNetwork =
  | { t: 'requestId'; id: number; requestId: string }
  | { t: 'resolve'; id: number; value: unknown }
  | { t: 'reject'; id: number; error: SerializedError }
  | { t: 'queueState'; id: number; state: string; reason: string | undefined }
  | { t: 'log'; level: 'warn' | 'info'; msg: string }
  /** The server the calls go to, once known (option, TINKER_BASE_URL or the embedded server). */
  | { t: 'address'; baseURL: string }
  | { t: 'closed' }
  /** The network thread broke; every pending call fails with this. */
  | { t: 'fatal'; error: SerializedError };
