// Where the server address and the API key come from, in the order the official SDK uses:
// explicit option, then TINKER_* environment, then a credential command or file.
import { environment } from '#environment';
import { localSystem } from '#local-system';
import { TinkerError } from '../errors.js';

export const EMBEDDED_SERVER_MODULE = '@tinker-ts/server/embedded';

export interface ServerAddress {
  baseURL: string;
  /** Key the server itself handed out (embedded server); used when the user gave none. */
  apiKey?: string | undefined;
}

/** What the SDK uses of `@tinker-ts/server/embedded`: the one edge from the SDK to the server package. */
export interface EmbeddedServerModule {
  ensureEmbeddedServer(opts: { dataDir: string }): Promise<{ baseURL: string; apiKey: string }>;
  findLocalServer(opts: { dataDir: string }): Promise<{ baseURL: string; apiKey: string } | null>;
}

/** The server package's launcher, or why it could not be loaded (it is an optional peer of the SDK). */
export async function loadEmbeddedServerModule(embeddedModule = EMBEDDED_SERVER_MODULE): Promise<EmbeddedServerModule | string> {
  // Held in a variable so the SDK compiles and runs without the server package installed.
  const specifier: string = embeddedModule;
  if (localSystem.unavailable) return `no local server can run here (${localSystem.unavailable})`;
  try {
    return (await localSystem.importModule(specifier)) as EmbeddedServerModule;
  } catch (e) {
    return `loading ${specifier} failed: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** TINKER_HOME, or ~/.tinker-ts: where the local server keeps its data. */
export function localDataDir(): string {
  return environment.variable('TINKER_HOME') ?? localSystem.joinPath(localSystem.homeDir() ?? '.', '.tinker-ts');
}

/** Option → TINKER_BASE_URL → a local server started by @tinker-ts/server. */
export async function resolveServerAddress(baseURL: string | undefined, embeddedModule = EMBEDDED_SERVER_MODULE): Promise<ServerAddress> {
  const explicit = baseURL || environment.variable('TINKER_BASE_URL');
  if (explicit) return { baseURL: explicit };
  const mod = await loadEmbeddedServerModule(embeddedModule);
  if (typeof mod === 'string') {
    if (localSystem.unavailable) throw new TinkerError(`No Tinker server configured: pass baseURL (${mod})`);
    throw new TinkerError(`No Tinker server configured: set TINKER_BASE_URL (or pass baseURL), or install @tinker-ts/server to run a local one (${mod})`);
  }
  if (typeof mod.ensureEmbeddedServer !== 'function') {
    throw new TinkerError(`${embeddedModule} does not export ensureEmbeddedServer(); set TINKER_BASE_URL or update @tinker-ts/server`);
  }
  return mod.ensureEmbeddedServer({ dataDir: localDataDir() });
}

/** Keys are `tml-…` API keys or `eyJ…` JWTs; anything else is refused before it reaches the server. */
export function checkApiKey(key: string): string {
  if (!key.startsWith('tml-') && !key.startsWith('eyJ')) {
    throw new TinkerError("The API key must start with 'tml-' (an API key) or 'eyJ' (a JWT); check apiKey / TINKER_API_KEY");
  }
  return key;
}

/**
 * Option → the embedded server's own key → TINKER_API_KEY → TINKER_CREDENTIAL_CMD output →
 * ~/.tinker/credentials.json. (An environment key is meant for a configured server, not the embedded one.)
 */
export async function resolveApiKey(option: string | undefined, serverKey?: string): Promise<string> {
  if (!option && serverKey) return serverKey;
  const direct = option || environment.variable('TINKER_API_KEY');
  if (direct) return checkApiKey(direct);
  if (environment.variable('TINKER_CREDENTIAL_CMD')) return checkApiKey(await runCredentialCommand());
  const fromFile = await readCredentialsFile();
  if (fromFile) return checkApiKey(fromFile);
  throw new TinkerError(
    'No API key: pass apiKey, set TINKER_API_KEY, set TINKER_CREDENTIAL_CMD to a command that prints one, or write {"api_key": "tml-…"} to ~/.tinker/credentials.json',
  );
}

/** Runs TINKER_CREDENTIAL_CMD and returns what it prints (trimmed). */
export async function runCredentialCommand(cmd = environment.variable('TINKER_CREDENTIAL_CMD') ?? ''): Promise<string> {
  if (!cmd) {
    throw new TinkerError('This server requires dynamic credentials: set TINKER_CREDENTIAL_CMD to a command that prints a valid credential');
  }
  let stdout: string;
  try {
    stdout = await localSystem.runCommand(cmd, 60_000);
  } catch (e) {
    throw new TinkerError(`TINKER_CREDENTIAL_CMD failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const credential = stdout.trim();
  if (!credential) throw new TinkerError('TINKER_CREDENTIAL_CMD printed an empty credential');
  return credential;
}

async function readCredentialsFile(): Promise<string | undefined> {
  const home = localSystem.homeDir();
  if (home === undefined) return undefined;
  const path = localSystem.joinPath(home, '.tinker', 'credentials.json');
  let text: string | undefined;
  try {
    text = await localSystem.readTextFile(path);
  } catch {
    return undefined;
  }
  if (text === undefined) return undefined;
  try {
    const data = JSON.parse(text) as Record<string, unknown>;
    const key = data['api_key'] ?? data['apiKey'] ?? data['TINKER_API_KEY'];
    return typeof key === 'string' && key ? key : undefined;
  } catch {
    throw new TinkerError(`${path} is not valid JSON`);
  }
}
