/**
 * Service routes: health, capabilities, client feature flags, auth token exchange (off) and
 * telemetry (accepted and dropped).
 */
import {
  CLIENT_CONFIG_DEFAULTS,
  DYNAMIC_CONFIG_DEFAULTS,
  clientConfigRequestSchema,
  clientDynamicConfigRequestSchema,
  parse,
  type ClientConfigResponse,
  type ClientDynamicConfigResponse,
  type GetServerCapabilitiesResponse,
} from '@tinker-ts/protocol';
import type { ServerContext } from '../context.js';
import { resolveModel } from '../model-names.js';
import { NotFoundError } from '../errors.js';
import { json, type Route, defineRoute } from '../router.js';
import { offersSessionFuturesPoll } from '../domain/sdk-support.js';

/** The flags an SDK of `sdkVersion` gets (unknown version: the flags every SDK understands). */
export function clientConfig(ctx: ServerContext, sdkVersion?: string): ClientConfigResponse {
  return {
    ...CLIENT_CONFIG_DEFAULTS,
    pjwt_auth_enabled: false,
    // Plain httpx transport: the SDK's alternative transport adds nothing against a local server.
    use_pyqwest_transport: false,
    proto_compress_fwdbwd: ctx.settings.compressForwardBackward,
    create_model_via_load_weights: ctx.settings.createModelViaLoadWeights,
    // One long poll per sampling session instead of one per sample, for SDKs that have the poller.
    sample_use_retrieve_futures: ctx.settings.sessionFuturesPoll && offersSessionFuturesPoll(sdkVersion),
  };
}

/**
 * SupportedModel's `trainable` / `sampleable` are named as in tinker's API reference (the newest
 * SDK source read here lists only model_name and max_context_length); `stand_in` and
 * `deprecation_notice` are this server's.
 */
function capabilities(ctx: ServerContext): GetServerCapabilitiesResponse {
  return {
    // Retired names accepted as aliases are not models of their own: hosted no longer lists them.
    supported_models: ctx.models.filter((listed) => !listed.alias_of).map((listed) => {
      const m = resolveModel(ctx, listed.model_name);
      return {
        model_name: m.model_name,
        max_context_length: m.max_context_length,
        trainable: m.trainable,
        sampleable: m.sampleable,
        stand_in: m.stand_in,
        deprecation_notice: m.deprecation,
      };
    }),
  };
}

export function serviceRoutes(ctx: ServerContext): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/healthz',
      auth: false,
      // 503 while the engine cannot serve (restarting, or down after too many crashes). The
      // engine's details come once there is something to tell: a crash since startup.
      handler: () => {
        const engine = ctx.engine.health?.();
        if (!engine || engine.lastExit === null) return json({ status: 'ok' });
        const { status, ...details } = engine;
        return json({ status, engine: details }, status === 'restarting' || status === 'down' ? 503 : 200);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/get_server_capabilities',
      handler: () => json(capabilities(ctx)),
    }),
    // Some clients POST these two; answering both costs nothing.
    defineRoute({
      method: 'POST',
      path: '/api/v1/get_server_capabilities',
      body: (v) => v,
      handler: () => json(capabilities(ctx)),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/client/config',
      body: (v) => parse(clientConfigRequestSchema, v),
      handler: ({ body }) => json(clientConfig(ctx, body.sdk_version)),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/client/config',
      handler: () => json(clientConfig(ctx)),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/client/dynamic_config',
      body: (v) => parse(clientDynamicConfigRequestSchema, v),
      handler: () => {
        // cancel_future is served (it cancels samples still waiting in the queue).
        const body: ClientDynamicConfigResponse = { ...DYNAMIC_CONFIG_DEFAULTS, sample_cancel_enabled: true };
        return json(body);
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/auth/token',
      handler: () => {
        throw new NotFoundError(
          'JWT auth is not enabled on this server (client/config pjwt_auth_enabled is false); send the API key as X-API-Key',
        );
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/telemetry',
      // Accepted and dropped: any JSON body is fine.
      body: (v) => v,
      handler: () => json({ status: 'accepted' }),
    }),
  ];
}
