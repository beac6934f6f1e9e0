/**
 * Semantic checks of the optimizer choice and of optim_step's parameters, shared by the SDK
 * (before sending) and the server, following params-checks.ts. Ranges are those of the
 * official SDK's DimuonParams (pydantic Field constraints, no inf/nan).
 */

import { ValidationError } from './errors.js';
import { finiteNumber as finite, joinPath as join } from './check-primitives.js';
import { checkAdamParams } from './params-checks.js';
import type { AdamParams, OptimStepRequest } from './types.js';
import { DIMUON_PARAMS_DEFAULTS, optimizerName, type DimuonParams, type OptimizerKind } from './optimizer.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The family an `optimizer_config` selects; null or absent = AdamW (SDKs before 0.38). */
export function checkOptimizerConfig(config: unknown, path = 'optimizer_config'): OptimizerKind {
  if (config === null || config === undefined) return 'adamw';
  if (!isObject(config)) throw new ValidationError(`expected {"type": "adamw"} or {"type": "dimuon", "version": 1}, got ${JSON.stringify(config)}`, path);
  if (config.type === 'adamw') return 'adamw';
  if (config.type === 'dimuon') {
    const version = config.version ?? 1;
    if (version !== 1) throw new ValidationError(`Dimuon version ${JSON.stringify(version)} is not supported; this server implements version 1`, join(path, 'version'));
    return 'dimuon';
  }
  throw new ValidationError(`unknown optimizer type ${JSON.stringify(config.type)}; expected "adamw" or "dimuon"`, join(path, 'type'));
}

/** Dimuon hyper-parameters with the defaults filled in (afresh on every step). */
export function checkDimuonParams(params: unknown, path = 'optimizer_params'): DimuonParams {
  if (!isObject(params)) throw new ValidationError(`expected an object, got ${JSON.stringify(params)}`, path);
  if (params.type !== undefined && params.type !== 'dimuon') {
    throw new ValidationError(`expected "dimuon", got ${JSON.stringify(params.type)}`, join(path, 'type'));
  }
  if (params.learning_rate === undefined || params.learning_rate === null) {
    throw new ValidationError('required: Dimuon has no default learning rate', join(path, 'learning_rate'));
  }
  const value = (key: keyof typeof DIMUON_PARAMS_DEFAULTS): number =>
    finite(params[key] ?? DIMUON_PARAMS_DEFAULTS[key], join(path, key));
  const learningRate = finite(params.learning_rate, join(path, 'learning_rate'));
  if (learningRate < 0) throw new ValidationError(`must be >= 0, got ${learningRate}`, join(path, 'learning_rate'));
  const beta1 = value('beta1');
  if (beta1 < 0 || beta1 >= 1) throw new ValidationError(`must be in [0, 1), got ${beta1}`, join(path, 'beta1'));
  const damping = value('damping');
  if (!(damping > 0)) throw new ValidationError(`must be > 0, got ${damping}`, join(path, 'damping'));
  return {
    type: 'dimuon',
    learning_rate: learningRate,
    grad_clip_norm: value('grad_clip_norm'),
    beta1,
    damping,
    rank_lr_correction_exponent: value('rank_lr_correction_exponent'),
  };
}

/** An optim_step's parameters once checked: which family, with its defaults filled in. */
export type ResolvedOptimParams = { kind: 'adamw'; params: AdamParams; field: string } | { kind: 'dimuon'; params: DimuonParams; field: string };

/**
 * The parameters an optim_step body carries. The 0.38 SDK sends AdamParams as `adam_params`
 * (as 0.25 did) and the other families as `optimizer_params` tagged with `type`; it also
 * reads `optim_params` (its field's own name), which may hold either. Exactly one must be set.
 */
export function resolveOptimStepParams(body: Pick<OptimStepRequest, 'adam_params' | 'optimizer_params' | 'optim_params'>): ResolvedOptimParams {
  const given = (['adam_params', 'optimizer_params', 'optim_params'] as const).filter((k) => body[k] !== undefined && body[k] !== null);
  if (given.length !== 1) {
    throw new ValidationError(
      given.length === 0
        ? 'optim_step needs its parameters: adam_params (AdamW) or optimizer_params (Dimuon, with "type": "dimuon")'
        : `optim_step takes one set of parameters, got ${given.join(' and ')}`,
      given[1] ?? 'adam_params',
    );
  }
  const field = given[0]!;
  const raw = body[field] as unknown;
  if (!isObject(raw)) throw new ValidationError(`expected an object, got ${JSON.stringify(raw)}`, field);
  // AdamParams has no `type`; a typed object is another family's (pydantic's OptimParamsBase).
  if (field === 'adam_params' || raw.type === undefined || raw.type === 'adamw') {
    if (field === 'optimizer_params' && raw.type === undefined) {
      throw new ValidationError('optimizer_params needs its "type" ("dimuon"); AdamW parameters go in adam_params', join(field, 'type'));
    }
    const { type: _type, ...adam } = raw;
    return { kind: 'adamw', params: checkAdamParams(adam as Partial<AdamParams>, field), field };
  }
  if (raw.type === 'dimuon') return { kind: 'dimuon', params: checkDimuonParams(raw, field), field };
  throw new ValidationError(`unknown optimizer type ${JSON.stringify(raw.type)}; expected "dimuon" (AdamW parameters go in adam_params)`, join(field, 'type'));
}

/** Refuses parameters of another family than the model's optimizer, naming both. */
export function checkOptimizerMatches(modelKind: OptimizerKind, resolved: ResolvedOptimParams, modelName = 'this model'): void {
  if (resolved.kind === modelKind) return;
  const want = modelKind === 'dimuon' ? 'DimuonParams (optimizer_params with "type": "dimuon")' : 'AdamParams (adam_params)';
  throw new ValidationError(
    `${modelName} was created with the ${optimizerName(modelKind)} optimizer (optimizer_config type "${modelKind}"), ` +
      `so optim_step takes ${want}; got ${optimizerName(resolved.kind)} parameters. The optimizer is fixed when the model is created.`,
    resolved.field,
  );
}

