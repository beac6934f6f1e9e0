// Options of the SDK runtime: what users pass, and the plain-data settings the network thread gets.
import type { QueueState } from '@tinker-ts/protocol';
import { environment } from '#environment';

export interface Logger {
  warn(msg: string): void;
  info(msg: string): void;
}

/** Intervals and limits of the network runtime. Defaults follow the official SDK; tests shrink them. */
export interface RuntimeTiming {
  /** One "second" of the retry backoffs (submit: min(2^n, 30) units; requests: 0.5 → 10 units). */
  backoffUnitMs: number;
  /** How long a submit keeps retrying before giving up. */
  submitRetryWindowMs: number;
  /**
   * How long connection failures (refused, DNS, reset, attempt timeouts) are retried while the
   * server has never answered: a wrong address fails this soon, naming the cause. Once the
   * server has answered, submitRetryWindowMs covers a server that goes away and comes back.
   */
  connectTimeoutMs: number;
  /** Client timeout of one retrieve_future poll. */
  pollTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Warn when no heartbeat has succeeded for this long. */
  heartbeatWarnAfterMs: number;
  /** Sleep between retries while the server answers 402 inside the billing pause window. */
  billingPauseMs: number;
  /** Lower bound for the dynamic config refresh interval. */
  minDynamicConfigRefreshMs: number;
  /** How long close() gives the server to finish the session (best effort). */
  sessionFinishTimeoutMs: number;
  /** Timeout of one cancel_future request (best effort, not retried). */
  cancelTimeoutMs: number;
}

export const DEFAULT_TIMING: Readonly<RuntimeTiming> = Object.freeze({
  backoffUnitMs: 1000,
  submitRetryWindowMs: 5 * 60_000,
  connectTimeoutMs: 15_000,
  pollTimeoutMs: 45_000,
  heartbeatIntervalMs: 10_000,
  heartbeatWarnAfterMs: 120_000,
  billingPauseMs: 5_000,
  minDynamicConfigRefreshMs: 10_000,
  sessionFinishTimeoutMs: 3_000,
  cancelTimeoutMs: 10_000,
});

export interface ClientOptions {
  /** Option → TINKER_BASE_URL → an embedded local server (@tinker-ts/server). */
  baseURL?: string;
  /** Option → TINKER_API_KEY → output of TINKER_CREDENTIAL_CMD → ~/.tinker/credentials.json. */
  apiKey?: string;
  /** Injected fetch: the runtime then runs on the calling thread and result() cannot block. */
  fetch?: typeof fetch;
  /** Timeout of one HTTP attempt (default 60 s). Per-call `timeoutMs` bounds a whole call instead. */
  timeoutMs?: number;
  /**
   * Give up on a server that has never answered after this long (default 15 s; TINKER_CONNECT_TIMEOUT_MS).
   * Failures after it has answered once are retried for the usual 5-minute window.
   */
  connectTimeoutMs?: number;
  /** Retries of one call; default: 10 for direct requests, a 5-minute window for submits. */
  maxRetries?: number;
  headers?: Record<string, string>;
  projectId?: string;
  tags?: string[];
  userMetadata?: Record<string, string>;
  /** A future without progress for this long logs why it waits; default 60 s, 0 turns it off. */
  stallWarningMs?: number;
  logger?: Logger;
  /** Advanced: retry/heartbeat intervals (tests use short ones). */
  timing?: Partial<RuntimeTiming>;
}

export type QueueStateObserver = (state: QueueState | 'unknown', reason: string | undefined) => void;

export interface CallOptions {
  signal?: AbortSignal;
  /** Bounds the whole call, retries and polling included. */
  timeoutMs?: number;
  maxRetries?: number;
  headers?: Record<string, string>;
  /** Told when a queued server request reports a queue state (progress displays). */
  onQueueState?: QueueStateObserver;
}

/** ClientOptions reduced to cloneable data, as the network thread receives them. */
export interface NetworkSettings {
  baseURL: string | undefined;
  apiKey: string | undefined;
  attemptTimeoutMs: number;
  maxRetries: number | undefined;
  headers: Record<string, string>;
  projectId: string | undefined;
  tags: string[] | undefined;
  userMetadata: Record<string, string> | undefined;
  stallWarningMs: number;
  timing: RuntimeTiming;
}

export function toNetworkSettings(opts: ClientOptions): NetworkSettings {
  return {
    baseURL: opts.baseURL,
    apiKey: opts.apiKey,
    attemptTimeoutMs: opts.timeoutMs ?? 60_000,
    maxRetries: opts.maxRetries,
    headers: { ...(opts.headers ?? {}) },
    projectId: opts.projectId,
    tags: opts.tags ? [...opts.tags] : undefined,
    userMetadata: opts.userMetadata ? { ...opts.userMetadata } : undefined,
    stallWarningMs: opts.stallWarningMs ?? 60_000,
    timing: { ...DEFAULT_TIMING, ...(opts.timing ?? {}), connectTimeoutMs: connectTimeoutMs(opts) },
  };
}

/** Option (or timing.connectTimeoutMs) → TINKER_CONNECT_TIMEOUT_MS → 15 s. */
function connectTimeoutMs(opts: ClientOptions): number {
  const given = opts.connectTimeoutMs ?? opts.timing?.connectTimeoutMs;
  if (given !== undefined) return given;
  const env = environment.variable('TINKER_CONNECT_TIMEOUT_MS');
  if (env !== undefined && env !== '' && Number(env) >= 0) return Number(env);
  return DEFAULT_TIMING.connectTimeoutMs;
}
