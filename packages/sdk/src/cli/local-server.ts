// The local server recorded in TINKER_HOME, for client commands given no --base-url: asked of
// the server package's launcher, so that the record's format lives in one place.
import { loadEmbeddedServerModule, localDataDir } from '../runtime/credentials.js';

export interface LocalServer {
  baseURL: string;
  apiKey: string;
}

/** The running local server, or why there is none (as a sentence). */
export async function findLocalServer(): Promise<LocalServer | string> {
  const dataDir = localDataDir();
  const mod = await loadEmbeddedServerModule();
  if (typeof mod === 'string') return `no local server can run without @tinker-ts/server (${mod})`;
  return (await mod.findLocalServer({ dataDir })) ?? `none is running for ${dataDir}`;
}
