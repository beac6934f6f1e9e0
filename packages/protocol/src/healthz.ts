// Whether a Tinker server answers its health route: how the CLIs and the local launcher tell a
// live server from a stale address before they use it.

/** GET /api/v1/healthz at `baseURL` answers 2xx within `timeoutMs`. */
export async function answersHealthz(baseURL: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${baseURL}/api/v1/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
