// Retry rules shared by direct requests, submits and polls.
import { APIConnectionError, APIError } from '../errors.js';
import { abortReason } from './http.js';
import { unrefTimer } from './unref-timer.js';

/** Statuses the official SDK retries for every call: timeout, conflict (dedup races), rate limit, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || (status >= 500 && status < 600);
}

export function isRetryableError(e: unknown): boolean {
  if (e instanceof APIConnectionError) return true;
  return e instanceof APIError && e.status !== undefined && isRetryableStatus(e.status);
}

/** Submit backoff: min(2^n, 30) units, with up to 25% jitter taken off so retries spread out. */
export function submitBackoffMs(attempt: number, unitMs: number): number {
  const units = Math.min(2 ** attempt, 30);
  return units * unitMs * (1 - 0.25 * Math.random());
}

/** Direct-request backoff (the Stainless layer): 0.5 units doubling up to 10 units, with jitter. */
export function requestBackoffMs(attempt: number, unitMs: number): number {
  const units = Math.min(0.5 * 2 ** attempt, 10);
  return units * unitMs * (1 - 0.25 * Math.random());
}

/** A server-requested delay (Retry-After-Ms, Retry-After seconds or date), if sane (0–60 s). */
export function retryAfterMs(headers: Record<string, string> | undefined): number | undefined {
  if (!headers) return undefined;
  let ms: number | undefined;
  const msHeader = headers['retry-after-ms'];
  if (msHeader !== undefined && Number.isFinite(Number(msHeader))) ms = Number(msHeader);
  const h = headers['retry-after'];
  if (ms === undefined && h !== undefined) {
    const secs = Number(h);
    if (Number.isFinite(secs)) ms = secs * 1000;
    else {
      const at = Date.parse(h);
      if (Number.isFinite(at)) ms = at - Date.now();
    }
  }
  if (ms === undefined || !(ms >= 0) || ms > 60_000) return undefined;
  return ms;
}

/** Sleeps `ms`; rejects at once with the signal's error when it aborts. `ref` keeps the process alive meanwhile. */
export function sleep(ms: number, signal?: AbortSignal, ref = true): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    if (!ref) unrefTimer(timer);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
