// What went wrong below HTTP, in words a user can act on. Node hides the cause in places a plain
// `e.message` misses: fetch throws "fetch failed" with the socket error as its `cause`, and a
// host with several addresses (localhost → ::1 and 127.0.0.1) fails with an AggregateError whose
// message is empty and whose errors each name one refused address.

export interface ConnectionFailure {
  /** e.g. "connect ECONNREFUSED 127.0.0.1:8000" or "getaddrinfo ENOTFOUND tinker.invalid". */
  message: string;
  /** The system error code, when there is one. */
  code: string | undefined;
}

interface SystemErrorLike {
  message?: unknown;
  code?: unknown;
  syscall?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  cause?: unknown;
  errors?: unknown;
}

export function describeConnectionFailure(e: unknown): ConnectionFailure {
  const parts: string[] = [];
  let code: string | undefined;
  const visit = (x: unknown, depth: number) => {
    if (depth > 4 || x === null || typeof x !== 'object') {
      if (x !== undefined && x !== null && typeof x !== 'object') parts.push(String(x));
      return;
    }
    const err = x as SystemErrorLike;
    if (typeof err.code === 'string' && /^E[A-Z0-9_]+$/.test(err.code)) code ??= err.code;
    const inner = Array.isArray(err.errors) && err.errors.length > 0 ? err.errors : err.cause !== undefined ? [err.cause] : [];
    const own = typeof err.message === 'string' ? err.message : '';
    // A wrapper's own words ("fetch failed") matter less than the socket error under it.
    if (inner.length === 0 || !isWrapperMessage(own)) parts.push(own || systemErrorText(err));
    for (const i of inner) visit(i, depth + 1);
  };
  visit(e, 0);
  const unique = [...new Set(parts.filter((p) => p !== ''))];
  let message = unique.join('; ') || 'unknown connection failure';
  if (code && !message.includes(code)) message = `${code}: ${message}`;
  return { message, code };
}

function isWrapperMessage(m: string): boolean {
  return m === '' || m === 'fetch failed' || /^(request|socket) (failed|error)$/i.test(m);
}

/** "connect ECONNREFUSED ::1:8000" from the fields, for errors that carry no message. */
function systemErrorText(err: SystemErrorLike): string {
  const where = typeof err.address === 'string' ? `${err.address}${err.port !== undefined ? `:${String(err.port)}` : ''}` : typeof err.hostname === 'string' ? err.hostname : '';
  return [err.syscall, err.code, where].filter((p) => typeof p === 'string' && p !== '').join(' ');
}
