/**
 * Sessions (a client process's lifetime, kept alive by heartbeats) and sampling sessions
 * (a sampler bound to a base model or to sampler weights).
 */
import { randomUUID } from 'node:crypto';
import {
  createSamplingSessionRequestSchema,
  createSessionRequestSchema,
  joinSamplingSessionRequestSchema,
  parse,
  sessionHeartbeatRequestSchema,
  type CreateSamplingSessionResponse,
  type CreateSessionResponse,
  type JoinSamplingSessionResponse,
} from '@tinker-ts/protocol';
import { requireBaseModel, requireReadableCheckpoint, requireSamplingSession, requireSession, type ServerContext } from '../context.js';
import { BadRequestError } from '../errors.js';
import { json, type Route, defineRoute } from '../router.js';
import { finishSession, samplingSessionIdOf } from '../domain/sessions.js';
import { joinNotices, sdkVersionWarning } from '../domain/sdk-support.js';
import { sameBaseModel } from '../model-names.js';

/** What create_session tells every client when some served models are stand-ins; null when none is. */
export function standInNotice(ctx: ServerContext): string | null {
  const bases = ctx.models.filter((m) => !m.model_name.includes(':peft:') && !m.alias_of);
  const standIns = bases.filter((m) => m.stand_in).length;
  if (standIns === 0) return null;
  return (
    `${standIns} of the ${bases.length} models this tinker-ts server serves are stand-ins under hosted names ` +
    '(tiny decoders with random weights: their outputs mean nothing until trained); get_server_capabilities flags them ' +
    'with stand_in; serve real weights with --model NAME=DIR'
  );
}

export function sessionRoutes(ctx: ServerContext): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/v1/create_session',
      body: (v) => parse(createSessionRequestSchema, v),
      handler: ({ user, body }) => {
        const sessionId = randomUUID();
        ctx.store.sessions.insert({
          session_id: sessionId,
          owner: user,
          tags: body.tags,
          user_metadata: body.user_metadata ?? null,
          sdk_version: body.sdk_version,
          project_id: body.project_id ?? null,
          now: ctx.clock(),
        });
        const res: CreateSessionResponse = {
          type: 'create_session',
          session_id: sessionId,
          info_message: null,
          // Warnings, so every SDK shows them by default: results from stand-ins mean nothing.
          warning_message: joinNotices(standInNotice(ctx), sdkVersionWarning(body.sdk_version)),
          error_message: null,
        };
        return json(res);
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/session_heartbeat',
      body: (v) => parse(sessionHeartbeatRequestSchema, v),
      handler: ({ user, body }) => {
        requireSession(ctx, user, body.session_id);
        ctx.store.sessions.touch(body.session_id, ctx.clock());
        return json({ type: 'session_heartbeat' });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/sessions/{session_id}/finish',
      body: (v) => v,
      handler: ({ user, params }) => {
        requireSession(ctx, user, params.session_id!);
        finishSession(ctx, params.session_id!, 'its session was finished');
        return json({ session_id: params.session_id, status: 'finished' });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/create_sampling_session',
      body: (v) => parse(createSamplingSessionRequestSchema, v),
      handler: ({ user, body }) => {
        requireSession(ctx, user, body.session_id);
        let baseModel: string;
        let samplerDir: string | null = null;
        const modelPath = body.model_path ?? null;
        if (modelPath !== null) {
          const ckpt = requireReadableCheckpoint(ctx, user, modelPath, 'sampler_weights', 'model_path');
          const run = ctx.store.models.get(ckpt.run_id);
          if (!run) throw new BadRequestError(`model_path ${modelPath} has no training run record`, { field: 'model_path' });
          baseModel = run.base_model;
          if (body.base_model != null && !sameBaseModel(body.base_model, baseModel)) {
            throw new BadRequestError(
              `base_model ${body.base_model} does not match the base model of ${modelPath} (${baseModel})`,
              { field: 'base_model' },
            );
          }
          // A variant of the run's base (`X:peft:<ctx>`) picks the context to sample with.
          if (body.base_model != null) baseModel = requireBaseModel(ctx, body.base_model).model_name;
          samplerDir = ckpt.path;
        } else if (body.base_model != null) {
          baseModel = requireBaseModel(ctx, body.base_model).model_name;
        } else {
          throw new BadRequestError('one of base_model or model_path is required', { field: 'base_model' });
        }
        const id = samplingSessionIdOf(body.session_id, body.sampling_session_seq_id);
        const existing = ctx.store.samplingSessions.get(id);
        if (existing) {
          if (existing.base_model !== baseModel || existing.model_path !== modelPath) {
            throw new BadRequestError(
              `sampling_session_seq_id ${body.sampling_session_seq_id} of session ${body.session_id} is already used by another sampling session`,
              { field: 'sampling_session_seq_id' },
            );
          }
        } else {
          ctx.store.samplingSessions.insert({
            sampling_session_id: id,
            owner: user,
            session_id: body.session_id,
            seq_id: body.sampling_session_seq_id,
            base_model: baseModel,
            model_path: modelPath,
            sampler_dir: samplerDir,
            ephemeral: false,
            now: ctx.clock(),
          });
        }
        const res: CreateSamplingSessionResponse = { type: 'create_sampling_session', sampling_session_id: id };
        return json(res);
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/join_sampling_session',
      body: (v) => parse(joinSamplingSessionRequestSchema, v),
      // A second client of one sampling session numbers its samples from client_counter × 1e9,
      // so its seq_ids (and its retrieve_futures target) never collide with the others'.
      handler: ({ user, body }) => {
        requireSamplingSession(ctx, user, body.sampling_session_id);
        const res: JoinSamplingSessionResponse = {
          type: 'join_sampling_session',
          client_counter: ctx.store.samplingSessions.addClient(body.sampling_session_id),
        };
        return json(res);
      },
    }),
  ];
}
