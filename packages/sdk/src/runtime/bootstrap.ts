// The start of every client's life (the bootstrap sequence of the Tinker wire protocol): find the server and the key,
// fetch client/config (feature flags), trade the key for a JWT if the server wants that, fetch
// client/dynamic_config (and keep it fresh). Sessions are created later, on demand (session.ts).
import {
  CLIENT_CONFIG_DEFAULTS, DYNAMIC_CONFIG_DEFAULTS, TINKER_WIRE_VERSION,
  type ClientConfigResponse, type ClientDynamicConfigResponse,
} from '@tinker-ts/protocol';
import { environment } from '#environment';
import { NotFoundError, TinkerError } from '../errors.js';
import { resolveApiKey, resolveServerAddress, runCredentialCommand } from './credentials.js';
import { HttpClient, parseJson, statusError, type HttpRequest } from './http.js';
import { JwtAuth } from './jwt-auth.js';
import type { NetworkSettings } from './options.js';
import { BytesSemaphore } from './bytes-semaphore.js';
import type { HttpTransport } from './transport.js';
import { unrefTimer } from './unref-timer.js';

export interface Connection {
  http: HttpClient;
  config: ClientConfigResponse;
  dynamicConfig: ClientDynamicConfigResponse;
  /** The server answered client/config with the protobuf-era flags, so it must answer protobuf when asked. */
  serverClaimsProto: boolean;
  /** Byte budget for large results fetched after `complete_metadata`. */
  inflightResponseBytes: BytesSemaphore;
  stop(): void;
}

export interface BootstrapHooks {
  settings: NetworkSettings;
  transport: HttpTransport;
  warn(msg: string): void;
  /** Retries a bootstrap step like a submit (408/409/429/5xx/connection errors, backoff, 402 pause). */
  withRetries<T>(fn: () => Promise<T>): Promise<T>;
  /** Told the server address before the first request (the caller's thread checks it before blocking). */
  resolved?(baseURL: string): void;
}

/** Headers every request carries: who we are and which wire we speak (the official SDK sends the same set). */
export function sdkHeaders(extra: Record<string, string>): Record<string, string> {
  const runtime = environment.describe();
  return {
    'User-Agent': `Tinker/TypeScript ${TINKER_WIRE_VERSION}`,
    'X-Stainless-Lang': 'js',
    'X-Stainless-Package-Version': TINKER_WIRE_VERSION,
    'X-Stainless-OS': runtime.os,
    'X-Stainless-Arch': runtime.arch,
    'X-Stainless-Runtime': runtime.runtime,
    'X-Stainless-Runtime-Version': runtime.version,
    ...extra,
  };
}

export async function jsonCall<T>(http: HttpClient, req: Omit<HttpRequest, 'timeoutMs'> & { timeoutMs?: number }, defaultTimeoutMs: number): Promise<T> {
  const res = await http.send({ timeoutMs: defaultTimeoutMs, ...req });
  if (res.status >= 300) throw statusError(res);
  return parseJson(res) as T;
}

export async function connect(hooks: BootstrapHooks): Promise<Connection> {
  const { settings } = hooks;
  const address = await resolveServerAddress(settings.baseURL);
  hooks.resolved?.(address.baseURL);
  const apiKey = await resolveApiKey(settings.apiKey, address.apiKey);
  let token: () => string | Promise<string> = () => apiKey;
  const http = new HttpClient({
    transport: hooks.transport,
    baseURL: address.baseURL,
    defaultHeaders: sdkHeaders(settings.headers),
    authToken: () => token(),
  });
  const timeout = settings.attemptTimeoutMs;

  const rawConfig = await hooks.withRetries(() =>
    jsonCall<Record<string, unknown>>(http, { method: 'POST', path: 'client/config', body: { sdk_version: TINKER_WIRE_VERSION } }, timeout),
  );
  const config: ClientConfigResponse = { ...CLIENT_CONFIG_DEFAULTS, ...pickKnown(rawConfig, CLIENT_CONFIG_DEFAULTS) };

  let jwt: JwtAuth | undefined;
  if (config.pjwt_auth_enabled) {
    const useCommand = config.credential_default_source === 'credential_cmd' && !apiKey.startsWith('eyJ');
    // A credential command is run for every exchange: its credentials are short-lived too.
    const credential = () => (useCommand ? runCredentialCommand() : Promise.resolve(apiKey));
    const exchange = async () => {
      const res = await http.send({ method: 'POST', path: 'auth/token', body: {}, timeoutMs: timeout, apiKey: await credential() });
      if (res.status >= 300) throw statusError(res);
      const body = parseJson(res) as { jwt?: unknown } | undefined;
      if (typeof body?.jwt !== 'string') throw new TinkerError('auth/token answered without a jwt');
      return body.jwt;
    };
    jwt = new JwtAuth(exchange, (e) => hooks.warn(`JWT refresh failed: ${e instanceof Error ? e.message : String(e)}`));
    await hooks.withRetries(() => jwt!.init());
    token = () => jwt!.token();
  }

  const fetchDynamic = async () => {
    const raw = await jsonCall<Record<string, unknown>>(http, { method: 'POST', path: 'client/dynamic_config', body: { sdk_version: TINKER_WIRE_VERSION } }, Math.min(timeout, 10_000));
    return { ...DYNAMIC_CONFIG_DEFAULTS, ...pickKnown(raw, DYNAMIC_CONFIG_DEFAULTS) } as ClientDynamicConfigResponse;
  };
  let dynamicConfig: ClientDynamicConfigResponse;
  try {
    dynamicConfig = await hooks.withRetries(fetchDynamic);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    dynamicConfig = { ...DYNAMIC_CONFIG_DEFAULTS }; // the server predates the route
  }

  const connection: Connection = {
    http,
    config,
    dynamicConfig,
    serverClaimsProto: rawConfig !== null && typeof rawConfig === 'object' && 'proto_compress_fwdbwd' in rawConfig,
    inflightResponseBytes: new BytesSemaphore(config.inflight_response_bytes_semaphore_size),
    stop: () => {
      clearTimeout(refreshTimer);
      jwt?.stop();
    },
  };

  // Keep the last good dynamic config when a refresh fails.
  let refreshTimer: NodeJS.Timeout | undefined;
  const scheduleRefresh = () => {
    const every = Math.max(connection.dynamicConfig.refresh_interval_sec * 1000, settings.timing.minDynamicConfigRefreshMs);
    refreshTimer = setTimeout(() => {
      fetchDynamic()
        .then((c) => (connection.dynamicConfig = c))
        .catch(() => {})
        .finally(scheduleRefresh);
    }, every);
    unrefTimer(refreshTimer);
  };
  scheduleRefresh();
  return connection;
}

/** The known fields of a config response; unknown flags are ignored, as the official SDK does. */
function pickKnown<T extends object>(raw: unknown, defaults: T): Partial<T> {
  const out: Partial<T> = {};
  if (raw === null || typeof raw !== 'object') return out;
  for (const key of Object.keys(defaults) as Array<keyof T>) {
    const v = (raw as Record<string, unknown>)[key as string];
    if (v !== undefined && v !== null && typeof v === typeof defaults[key]) out[key] = v as T[keyof T];
  }
  return out;
}
