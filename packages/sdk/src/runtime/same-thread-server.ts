// A Tinker server started with `startServer` answers on the event loop of the thread that started
// it, so result() on that same thread against it could never return. The server lists its
// origins under a global symbol (globalThis is per thread in Node, so the list is this thread's
// servers only); the SDK reads it without importing the server package.
import { environment } from '#environment';

/** The registry's key and shape: a Set of origins such as "http://127.0.0.1:41234". Shared with @tinker-ts/server. */
export const THREAD_SERVERS_KEY = Symbol.for('tinker-ts.thread-servers');

/** The origin of a server running on this thread that `baseURL` points at, if any. */
export function sameThreadServer(baseURL: string | undefined): string | undefined {
  const servers = (globalThis as Record<symbol, unknown>)[THREAD_SERVERS_KEY];
  if (!(servers instanceof Set) || servers.size === 0 || !baseURL) return undefined;
  const target = parse(baseURL);
  if (!target) return undefined;
  for (const origin of servers as Set<unknown>) {
    const server = typeof origin === 'string' ? parse(origin) : undefined;
    if (server && server.port === target.port && server.protocol === target.protocol && sameHost(server.host, target.host)) return origin as string;
  }
  return undefined;
}

function parse(url: string): { protocol: string; host: string; port: string } | undefined {
  try {
    const u = new URL(url);
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    return { protocol: u.protocol, host: u.hostname.replace(/^\[|\]$/g, '').toLowerCase(), port };
  } catch {
    return undefined;
  }
}

function sameHost(serverHost: string, targetHost: string): boolean {
  if (serverHost === targetHost) return true;
  const local = isLoopback(targetHost) || isThisMachine(targetHost);
  // A server bound to every address answers on any of this machine's names.
  if (serverHost === '0.0.0.0' || serverHost === '::') return local;
  return isLoopback(serverHost) && isLoopback(targetHost);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host) || host === '0.0.0.0' || host === '::';
}

function isThisMachine(host: string): boolean {
  return environment.isThisMachine(host);
}
