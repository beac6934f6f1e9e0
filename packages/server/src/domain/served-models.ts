/**
 * The models the OpenAI- and Anthropic-compatible endpoints serve, named as hosted Tinker names
 * them in a request's `model`: a base model id (`Qwen/Qwen3-8B`), a sampler checkpoint
 * (`tinker://<run>/sampler_weights/<name>`), or both joined by `;` (`<base>;<tinker path>`).
 * A checkpoint is served to its owner, or to anyone once published: the same tenancy as
 * `asample`'s `model_path`; another user's private checkpoint is not found.
 */
import { requireReadableCheckpoint, type ServerContext } from '../context.js';
import type { EngineSampleSource } from '../engine-port.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import { formatCheckpointPath } from '../tinker-paths.js';
import { resolveModel, sameBaseModel, type ResolvedModel } from '../model-names.js';

export interface ServedModel {
  /** What the request named, echoed as the response's `model`. */
  name: string;
  baseModel: string;
  source: EngineSampleSource;
  maxContextLength: number;
  /**
   * Throws once the caller may no longer read the weights; checked again right before the
   * engine samples, so a checkpoint unpublished or deleted meanwhile is not served.
   */
  recheck(): void;
}

export class UnknownModelError extends NotFoundError {}

/** Resolves `model` for `user`; `field` names the request field in error messages. */
export function resolveServedModel(ctx: ServerContext, user: string, model: string, field = 'model'): ServedModel {
  const split = model.indexOf(';');
  const basePart = split >= 0 ? model.slice(0, split).trim() : model.startsWith('tinker://') ? null : model;
  const pathPart = split >= 0 ? model.slice(split + 1).trim() : model.startsWith('tinker://') ? model : null;
  let baseInfo: ResolvedModel | null = null;
  if (basePart !== null) {
    // A malformed suffix (a ValidationError) or a context too long is a 400; a well-formed name
    // of no served model is a 404.
    try {
      baseInfo = resolveModel(ctx, basePart, field);
    } catch (e) {
      if (!(e instanceof BadRequestError) || ctx.models.some((m) => sameBaseModel(m.model_name, basePart))) throw e;
      throw new UnknownModelError(
        `The model ${JSON.stringify(basePart)} does not exist on this server; it serves ${ctx.models.map((m) => m.model_name).join(', ')}, ` +
          'or a sampler checkpoint as tinker://<run_id>/sampler_weights/<name>',
      );
    }
  }
  if (pathPart === null) {
    const info = baseInfo!;
    return { name: model, baseModel: info.model_name, source: { baseModel: info.model_name }, maxContextLength: info.max_context_length, recheck: () => {} };
  }
  const read = () => requireReadableCheckpoint(ctx, user, pathPart, 'sampler_weights', field);
  const ckpt = read();
  const run = ctx.store.models.get(ckpt.run_id);
  if (!run) throw new BadRequestError(`${field}: ${pathPart} has no training run record`, { field });
  if (basePart !== null && !sameBaseModel(basePart, run.base_model)) {
    throw new BadRequestError(`${field}: ${pathPart} was trained on ${run.base_model}, not ${basePart}`, { field });
  }
  // `<base id>;<checkpoint>` samples the checkpoint with the context of that id (hosted picks
  // a context length this way).
  let info: ResolvedModel | null = baseInfo;
  if (!info) {
    try {
      info = resolveModel(ctx, run.base_model);
    } catch {
      throw new NotFoundError(`${pathPart} was trained on ${run.base_model}, which this server no longer serves`);
    }
  }
  return {
    name: model,
    baseModel: info.model_name,
    source: { baseModel: info.model_name, samplerDir: ckpt.path },
    maxContextLength: info.max_context_length,
    recheck: () => void read(),
  };
}

export interface ServedModelListing {
  id: string;
  createdAt: number;
  ownedBy: string;
}

/** Every base model, then the user's own sampler checkpoints (newest first, at most `limit`). */
export function listServedModels(ctx: ServerContext, user: string, limit = 1000): ServedModelListing[] {
  const bases = ctx.models.filter((m) => !m.alias_of).map((m) => ({ id: m.model_name, createdAt: 0, ownedBy: 'tinker-ts' }));
  const now = ctx.clock();
  const own = ctx.store.checkpoints
    .ofOwner(user, limit, 0)
    .rows.filter((c) => c.kind === 'sampler_weights' && (c.expires_at === null || c.expires_at > now))
    .map((c) => ({ id: formatCheckpointPath({ runId: c.run_id, kind: c.kind, name: c.name }), createdAt: Math.floor(c.created_at / 1000), ownedBy: user }));
  return [...bases, ...own];
}
