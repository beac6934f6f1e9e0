/**
 * Semantic checks of training data, shared by the SDK (before sending) and
 * the server (before computing): which loss_fn_inputs each loss needs, their
 * dtypes and lengths, and each loss's config keys and defaults.
 */

import { ValidationError } from './errors.js';
import { joinPath as join } from './check-primitives.js';
import { modelInputLength } from './model-input.js';
import { checkTensorStructure, isSparse, tensorShape } from './tensor.js';
import type { Datum, ForwardBackwardInput, LossFnConfig, LossFnType, TensorData, TensorDtype } from './types.js';
import { LOSS_FN_TYPES } from './types.js';
import { refusedLossReason } from './refused-losses.js';

/** Wire dtype of every known loss_fn_inputs key (the SDK's own table). */
export const LOSS_INPUT_DTYPES: Readonly<Record<string, TensorDtype>> = Object.freeze({
  target_tokens: 'int64',
  weights: 'float32',
  advantages: 'float32',
  logprobs: 'float32',
  clip_low_threshold: 'float32',
  clip_high_threshold: 'float32',
});

/**
 * Keys each loss requires, and keys it also accepts. Anything else is an
 * error rather than silently ignored (clients strip helper keys such as
 * `mask` before sending).
 */
export const LOSS_INPUT_KEYS: Readonly<Record<LossFnType, { required: readonly string[]; optional: readonly string[] }>> =
  Object.freeze({
    cross_entropy: { required: ['target_tokens'], optional: ['weights'] },
    importance_sampling: { required: ['target_tokens', 'logprobs', 'advantages'], optional: [] },
    ppo: { required: ['target_tokens', 'logprobs', 'advantages'], optional: ['clip_low_threshold', 'clip_high_threshold'] },
    cispo: { required: ['target_tokens', 'logprobs', 'advantages'], optional: ['clip_low_threshold', 'clip_high_threshold'] },
    dro: { required: ['target_tokens', 'logprobs', 'advantages'], optional: [] },
  });

/** Config keys of each loss with their defaults; `undefined` = required. */
export const LOSS_CONFIG_DEFAULTS: Readonly<Record<LossFnType, Readonly<Record<string, number | undefined>>>> =
  Object.freeze({
    cross_entropy: {},
    importance_sampling: {},
    ppo: { clip_low_threshold: 0.8, clip_high_threshold: 1.2 },
    cispo: { clip_low_threshold: 0.0, clip_high_threshold: 4.0 },
    dro: { beta: undefined },
  });

export interface CheckDatumOptions {
  /** When known, every token id must be below it. */
  vocabSize?: number;
}

export function checkLossFnType(lossFn: unknown, path = 'loss_fn'): LossFnType {
  const refused = refusedLossReason(lossFn);
  if (refused) throw new ValidationError(refused, path);
  if (typeof lossFn !== 'string' || !(LOSS_FN_TYPES as readonly string[]).includes(lossFn)) {
    throw new ValidationError(
      `expected one of ${LOSS_FN_TYPES.map((l) => JSON.stringify(l)).join(', ')}, got ${JSON.stringify(lossFn)}`,
      path,
    );
  }
  return lossFn as LossFnType;
}

function checkTokenIds(values: readonly number[], path: string, vocabSize: number | undefined): void {
  for (let i = 0; i < values.length; i++) {
    const t = values[i]!;
    if (!Number.isInteger(t) || t < 0) {
      throw new ValidationError(`token ids must be non-negative integers, got ${t}`, `${path}[${i}]`);
    }
    if (vocabSize !== undefined && t >= vocabSize) {
      throw new ValidationError(`token id ${t} is outside the vocabulary (size ${vocabSize})`, `${path}[${i}]`);
    }
  }
}

function checkFinite(values: readonly number[], path: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new ValidationError(`expected a finite number, got ${values[i]}`, `${path}[${i}]`);
    }
  }
}

/**
 * Checks one Datum against what `lossFn` needs: required keys present,
 * known keys only, dtypes as the SDK sends them, every tensor's leading
 * dimension equal to the model_input length (the client has already shifted
 * targets), (N, K) 2-D only for cross_entropy target_tokens/weights with
 * matching shapes, valid sparse CSR, and token ids non-negative integers.
 */
export function checkDatum(datum: Datum, lossFn: LossFnType, path = '', opts: CheckDatumOptions = {}): void {
  checkLossFnType(lossFn, 'loss_fn');
  const inputPath = join(path, 'model_input');
  datum.model_input.chunks.forEach((chunk, i) => {
    if (chunk.type === 'encoded_text') {
      checkTokenIds(chunk.tokens, `${inputPath}.chunks[${i}].tokens`, opts.vocabSize);
    }
  });
  const length = modelInputLength(datum.model_input, inputPath);
  if (length === 0) throw new ValidationError('model_input is empty', inputPath);

  const inputs = datum.loss_fn_inputs;
  const inputsPath = join(path, 'loss_fn_inputs');
  const spec = LOSS_INPUT_KEYS[lossFn];
  for (const key of spec.required) {
    if (inputs[key] == null) {
      throw new ValidationError(`loss ${lossFn} requires loss_fn_inputs.${key}`, join(inputsPath, key));
    }
  }
  const shapes: Record<string, number[]> = {};
  for (const key of Object.keys(inputs)) {
    const keyPath = join(inputsPath, key);
    if (!spec.required.includes(key) && !spec.optional.includes(key)) {
      throw new ValidationError(
        `loss ${lossFn} does not take this input (it takes ${[...spec.required, ...spec.optional].join(', ')})`,
        keyPath,
      );
    }
    const td: TensorData = inputs[key]!;
    checkTensorStructure(td, keyPath);
    const wantDtype = LOSS_INPUT_DTYPES[key];
    if (td.dtype !== wantDtype) {
      throw new ValidationError(`expected dtype "${wantDtype}", got ${JSON.stringify(td.dtype)}`, join(keyPath, 'dtype'));
    }
    const shape = tensorShape(td);
    const twoDimAllowed = lossFn === 'cross_entropy' && (key === 'target_tokens' || key === 'weights');
    if (shape.length !== 1 && !(twoDimAllowed && shape.length === 2)) {
      throw new ValidationError(
        `expected shape [${length}]${twoDimAllowed ? ` or [${length}, K]` : ''}, got [${shape.join(', ')}]`,
        join(keyPath, 'shape'),
      );
    }
    if (shape[0] !== length) {
      throw new ValidationError(
        `length ${shape[0]} does not match model_input length ${length} (targets are already shifted by the client)`,
        keyPath,
      );
    }
    if (shape.length === 2 && shape[1]! < 1) {
      throw new ValidationError('K (second dimension) must be at least 1', join(keyPath, 'shape'));
    }
    if (isSparse(td) && shape.length !== 2) {
      throw new ValidationError('only 2-D tensors may be sparse', join(keyPath, 'shape'));
    }
    const dataPath = join(keyPath, 'data');
    if (key === 'target_tokens') {
      // Sparse CSR values are the non-zero ids; absent entries are id 0, which is valid.
      checkTokenIds(td.data, dataPath, opts.vocabSize);
    } else {
      checkFinite(td.data, dataPath);
    }
    shapes[key] = shape;
  }
  if (shapes.weights && shapes.target_tokens && shapes.weights.join(',') !== shapes.target_tokens.join(',')) {
    throw new ValidationError(
      `weights shape [${shapes.weights.join(', ')}] must equal target_tokens shape [${shapes.target_tokens.join(', ')}]`,
      join(inputsPath, 'weights'),
    );
  }
}

/** Runs `checkDatum` on every datum of a batch (path `data[i]`). */
export function checkData(data: readonly Datum[], lossFn: LossFnType, path = 'data', opts: CheckDatumOptions = {}): void {
  data.forEach((datum, i) => checkDatum(datum, lossFn, `${path}[${i}]`, opts));
}

/**
 * Validates a loss config and returns it with defaults filled in. Unknown
 * keys are an error (a misspelt clip threshold would silently do nothing).
 */
export function checkLossFnConfig(
  lossFn: LossFnType,
  config: LossFnConfig | null | undefined,
  path = 'loss_fn_config',
): Record<string, number> {
  checkLossFnType(lossFn, 'loss_fn');
  const defaults = LOSS_CONFIG_DEFAULTS[lossFn];
  const known = Object.keys(defaults);
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(config ?? {})) {
    if (!known.includes(key)) {
      throw new ValidationError(
        known.length
          ? `loss ${lossFn} has no config key ${JSON.stringify(key)} (known: ${known.join(', ')})`
          : `loss ${lossFn} takes no config, got key ${JSON.stringify(key)}`,
        join(path, key),
      );
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ValidationError(`expected a finite number, got ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`, join(path, key));
    }
    out[key] = value;
  }
  for (const key of known) {
    if (out[key] === undefined) {
      const def = defaults[key];
      if (def === undefined) throw new ValidationError(`loss ${lossFn} requires config key ${key}`, join(path, key));
      out[key] = def;
    }
  }
  if ('clip_low_threshold' in out) {
    const lo = out.clip_low_threshold!;
    const hi = out.clip_high_threshold!;
    if (lo < 0) throw new ValidationError(`must be >= 0, got ${lo}`, join(path, 'clip_low_threshold'));
    if (hi < lo) {
      throw new ValidationError(`must be >= clip_low_threshold (${lo}), got ${hi}`, join(path, 'clip_high_threshold'));
    }
  }
  if ('beta' in out && !(out.beta! > 0)) {
    throw new ValidationError(`must be > 0, got ${out.beta}`, join(path, 'beta'));
  }
  return out;
}

/**
 * Everything a forward_backward batch must satisfy beyond its JSON shape:
 * a known loss, valid data for it, and its config. Returns the config with
 * defaults filled in.
 */
export function checkForwardBackwardInput(
  input: ForwardBackwardInput,
  path = 'forward_backward_input',
  opts: CheckDatumOptions = {},
): Record<string, number> {
  const lossFn = checkLossFnType(input.loss_fn, join(path, 'loss_fn'));
  if (input.data.length === 0) throw new ValidationError('a batch needs at least one datum', join(path, 'data'));
  checkData(input.data, lossFn, join(path, 'data'), opts);
  return checkLossFnConfig(lossFn, input.loss_fn_config, join(path, 'loss_fn_config'));
}
