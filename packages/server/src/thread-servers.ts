// Servers started on this thread, listed where the SDK can see them: result() blocks the thread's
// event loop, so the SDK refuses to block on a call to a server that this very loop must answer
// (it would wait forever). globalThis is per thread, so worker threads each have their own list.

/** Key and shape are a contract with @tinker-ts/sdk (runtime/same-thread-server.ts): a Set of origins. */
const THREAD_SERVERS_KEY = Symbol.for('tinker-ts.thread-servers');

/** Lists `origin` (e.g. http://127.0.0.1:41234) until the returned function is called. */
export function registerThreadServer(origin: string): () => void {
  const g = globalThis as Record<symbol, unknown>;
  let servers = g[THREAD_SERVERS_KEY];
  if (!(servers instanceof Set)) {
    servers = new Set<string>();
    Object.defineProperty(g, THREAD_SERVERS_KEY, { value: servers, configurable: true });
  }
  const set = servers as Set<string>;
  set.add(origin);
  return () => void set.delete(origin);
}
