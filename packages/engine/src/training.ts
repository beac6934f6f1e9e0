/**
 * The Engine's training entry points: a forward_backward request (wire Datums, a loss name and
 * its config) becomes one packed batch through the model, with the loss gradient taken per head
 * chunk; gradients accumulate in the adapter until runOptimStep applies and clears them.
 *
 * Targets are not shifted here: the client already sends model_input = tokens[:-1] and
 * target_tokens = tokens[1:], so every loss input has one entry (or K) per input token.
 */
import type { Datum, ForwardBackwardOutput, TensorData } from '@tinker-ts/protocol';
import type { Kernels } from './kernels.js';
import type { AdapterState, LoadedModel } from './model-types.js';
import type { FrozenWeight } from './weight-dtype.js';
import { runTrainingPass } from './model.js';
import { RouterLoad } from './router-load.js';
import { packSequences } from './packed-batch.js';
import { createTokenLoss, isLossName, LOSS_INPUT_KEYS, LOSS_NAMES, resolveLossConfig, type LossInputs, type LossName } from './losses.js';
import { optimStep, type AdamParams } from './adamw.js';
import { EngineUserError } from './errors.js';
import { evaluateLossProgram, type LossProgram, type LossProgramResult } from './loss-graph.js';

/** Class name hosted Tinker reports for per-datum output records. */
export const LOSS_FN_OUTPUT_TYPE = 'ArrayRecord';

/** One datum after validation: its input tokens and dense per-position loss inputs. */
interface ParsedDatum {
  tokens: number[];
  targets: Int32Array; // [N * K]
  K: number;
  /** Shape the caller used for target_tokens: [N] or [N, K]. */
  targetShape: number[];
  weights?: Float32Array; // [N * K]
  samplerLogprobs?: Float32Array; // [N]
  advantages?: Float32Array; // [N]
}

function dense(td: TensorData, what: string): { values: ArrayLike<number>; shape: number[] } {
  if (td === null || typeof td !== 'object' || td.data === undefined) throw new EngineUserError(`${what} is not a tensor`);
  const crow = td.sparse_crow_indices;
  const col = td.sparse_col_indices;
  if (crow == null && col == null) {
    const shape = td.shape ?? [td.data.length];
    const numel = shape.reduce((a, b) => a * b, 1);
    if (numel !== td.data.length) throw new EngineUserError(`${what}: shape [${shape.join(', ')}] needs ${numel} values, data has ${td.data.length}`);
    return { values: td.data, shape };
  }
  if (crow == null || col == null || td.shape == null || td.shape.length !== 2) {
    throw new EngineUserError(`${what}: a sparse tensor needs sparse_crow_indices, sparse_col_indices and a 2-D shape`);
  }
  const [rows, cols] = td.shape;
  if (crow.length !== rows + 1 || col.length !== td.data.length) throw new EngineUserError(`${what}: malformed CSR indices`);
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j = crow[r]; j < crow[r + 1]; j++) {
      const c = col[j];
      if (!Number.isInteger(c) || c < 0 || c >= cols) throw new EngineUserError(`${what}: column index ${c} outside [0, ${cols})`);
      out[r * cols + c] = td.data[j];
    }
  }
  return { values: out, shape: [rows, cols] };
}

function floatInput(d: Datum, key: string, n: number, i: number): Float32Array {
  const td = d.loss_fn_inputs[key];
  const what = `datum ${i}: loss_fn_inputs.${key}`;
  const { values } = dense(td, what);
  if (values.length !== n) throw new EngineUserError(`${what} has ${values.length} values but the datum has ${n} positions`);
  const out = Float32Array.from(values);
  for (let j = 0; j < out.length; j++) {
    if (!Number.isFinite(out[j])) throw new EngineUserError(`${what}[${j}] is ${values[j]}, not a finite number`);
  }
  return out;
}

/** The datum's input tokens (text chunks only). */
function datumTokens(d: Datum, i: number): number[] {
  if (d === null || typeof d !== 'object' || d.model_input == null || !Array.isArray(d.model_input.chunks)) {
    throw new EngineUserError(`datum ${i}: model_input.chunks is missing`);
  }
  const tokens: number[] = [];
  for (const chunk of d.model_input.chunks) {
    if (chunk.type !== 'encoded_text') {
      throw new EngineUserError(`datum ${i}: '${chunk.type}' chunks are not supported; this engine serves text-only models`);
    }
    for (const t of chunk.tokens) tokens.push(t);
  }
  if (tokens.length === 0) throw new EngineUserError(`datum ${i}: model_input has no tokens`);
  return tokens;
}

function parseDatum(d: Datum, i: number, loss: LossName): ParsedDatum {
  const tokens = datumTokens(d, i);
  const N = tokens.length;
  const inputs = d.loss_fn_inputs ?? {};
  const allowed = new Set<string>(['target_tokens', ...LOSS_INPUT_KEYS[loss]]);
  for (const key of Object.keys(inputs)) {
    if (!allowed.has(key)) throw new EngineUserError(`datum ${i}: loss_fn_inputs.${key} is not used by ${loss} (expected ${[...allowed].join(', ')})`);
  }
  for (const key of allowed) {
    if (key === 'weights') continue; // optional, see below
    if (inputs[key] == null) throw new EngineUserError(`datum ${i}: ${loss} requires loss_fn_inputs.${key}`);
  }

  const tt = dense(inputs.target_tokens, `datum ${i}: loss_fn_inputs.target_tokens`);
  if (tt.shape[0] !== N || tt.shape.length > 2 || tt.values.length % N !== 0) {
    throw new EngineUserError(`datum ${i}: target_tokens has shape [${tt.shape.join(', ')}] but model_input has ${N} tokens (targets are not shifted by the server)`);
  }
  const K = tt.values.length / N;
  if (K < 1) throw new EngineUserError(`datum ${i}: target_tokens is empty`);
  if (K > 1 && loss !== 'cross_entropy') throw new EngineUserError(`datum ${i}: ${loss} takes one target per position, got ${K}`);
  const targets = new Int32Array(N * K);
  for (let j = 0; j < N * K; j++) {
    const t = tt.values[j];
    if (!Number.isInteger(t) || t < (K > 1 ? -1 : 0)) {
      throw new EngineUserError(`datum ${i}: target_tokens[${j}] = ${t} is not a valid token id`);
    }
    targets[j] = t;
  }
  const parsed: ParsedDatum = { tokens, targets, K, targetShape: tt.shape };
  if (loss === 'cross_entropy' && inputs.weights === undefined) {
    // weights are optional for cross_entropy: every real target counts once, padding (-1) not at all.
    parsed.weights = Float32Array.from(targets, (t) => (t < 0 ? 0 : 1));
  } else if (loss === 'cross_entropy') {
    const w = dense(inputs.weights, `datum ${i}: loss_fn_inputs.weights`);
    if (w.values.length !== N * K) {
      throw new EngineUserError(`datum ${i}: weights has shape [${w.shape.join(', ')}] but target_tokens has [${tt.shape.join(', ')}]`);
    }
    parsed.weights = floatInput(d, 'weights', N * K, i);
  } else {
    parsed.samplerLogprobs = floatInput(d, 'logprobs', N, i);
    parsed.advantages = floatInput(d, 'advantages', N, i);
  }
  return parsed;
}

/** Concatenates per-datum arrays into packed order, widening to K columns (padding with `pad`). */
function packColumns(data: ParsedDatum[], K: number, pick: (d: ParsedDatum) => ArrayLike<number> | undefined, perTarget: boolean, pad: number): Float32Array | undefined {
  if (data.length === 0 || pick(data[0]) === undefined) return undefined;
  let total = 0;
  for (const d of data) total += d.tokens.length * (perTarget ? K : 1);
  const out = new Float32Array(total).fill(pad);
  let row = 0;
  for (const d of data) {
    const src = pick(d)!;
    const n = d.tokens.length;
    if (!perTarget) out.set(src, row);
    else for (let j = 0; j < n; j++) for (let c = 0; c < d.K; c++) out[(row + j) * K + c] = src[j * d.K + c];
    row += n;
  }
  return out;
}

/**
 * forward_backward (or forward, with forwardOnly) on a batch of datums. Gradients are added to
 * adapter.grads; outputs per datum are the target `logprobs` and `elementwise_loss`.
 */
export function runForwardBackward(k: Kernels, model: LoadedModel<FrozenWeight>, adapter: AdapterState, data: Datum[], lossFn: string,
  lossFnConfig: Record<string, number> | null, forwardOnly: boolean, customLoss?: LossProgram | null): ForwardBackwardOutput {
  if (lossFn === CUSTOM_LOSS_FN) {
    if (!customLoss) throw new EngineUserError(`loss_fn '${CUSTOM_LOSS_FN}' needs the custom loss to evaluate`);
    return runCustomLoss(k, model, adapter, data, customLoss, forwardOnly);
  }
  if (!isLossName(lossFn)) throw new EngineUserError(`unknown loss function '${lossFn}'; expected one of ${LOSS_NAMES.join(', ')}`);
  const config = resolveLossConfig(lossFn, lossFnConfig);
  if (!Array.isArray(data)) throw new EngineUserError('data must be a list of datums');
  const parsed = data.map((d, i) => parseDatum(d, i, lossFn));
  const K = parsed.reduce((m, d) => Math.max(m, d.K), 1);

  const batch = packSequences(model.config, parsed.map((d) => ({
    tokens: d.tokens,
    targets: d.K === K ? d.targets : packColumns([d], K, (x) => x.targets, true, -1)!,
  })), K);
  const inputs: LossInputs = {
    weights: packColumns(parsed, K, (d) => d.weights, true, 0),
    samplerLogprobs: packColumns(parsed, K, (d) => d.samplerLogprobs, false, 0),
    advantages: packColumns(parsed, K, (d) => d.advantages, false, 0),
  };
  const loss = createTokenLoss(lossFn, inputs, config);
  const T = batch.tokens.length;
  const elementwise = new Float32Array(T * K);
  let logprobs: Float32Array;
  const routerLoad = new RouterLoad();
  if (forwardOnly) {
    logprobs = runTrainingPass(k, model, adapter, batch, { routerLoad });
    loss.evaluate(0, logprobs, elementwise, null);
  } else {
    logprobs = runTrainingPass(k, model, adapter, batch, {
      routerLoad,
      lossGradient: (rowStart, rowCount, lp, dlp) => {
        loss.evaluate(rowStart * K, lp, elementwise.subarray(rowStart * K, (rowStart + rowCount) * K), dlp);
      },
    });
  }

  const outputs = parsed.map((d, i) => {
    const start = batch.seqStarts[i];
    const n = d.tokens.length;
    const shape = d.targetShape.length === 2 ? [n, d.K] : [n];
    const slice = (src: Float32Array): number[] => {
      const vals: number[] = new Array(n * d.K);
      for (let j = 0; j < n; j++) for (let c = 0; c < d.K; c++) vals[j * d.K + c] = src[(start + j) * K + c];
      return vals;
    };
    return {
      logprobs: { data: slice(logprobs), dtype: 'float32' as const, shape },
      elementwise_loss: { data: slice(elementwise), dtype: 'float32' as const, shape },
    };
  });
  return { loss_fn_output_type: LOSS_FN_OUTPUT_TYPE, loss_fn_outputs: outputs, metrics: { ...loss.metrics(), ...routerLoad.metrics() } };
}

/** The loss_fn of a forward_backward that names a custom loss (a LossProgram rides along). */
export const CUSTOM_LOSS_FN = 'custom';

/**
 * forward_backward with a custom loss: one pass whose head gradient comes from the whole batch's
 * logprobs (the program may couple datums, as DPO does). Outputs per datum are the `logprobs`.
 */
function runCustomLoss(k: Kernels, model: LoadedModel<FrozenWeight>, adapter: AdapterState, data: Datum[], program: LossProgram, forwardOnly: boolean): ForwardBackwardOutput {
  if (!Array.isArray(data) || data.length === 0) throw new EngineUserError('data must be a non-empty list of datums');
  const ranks = new Map<string, 0 | 1>();
  for (const s of program.steps) if (s.op === 'input' && s.name !== 'logprobs') ranks.set(s.name, s.rank);
  const values: Record<string, Float32Array[]> = {};
  for (const name of ranks.keys()) values[name] = [];
  const sequences = data.map((d, i) => {
    const tokens = datumTokens(d, i);
    const N = tokens.length;
    const inputs = d.loss_fn_inputs ?? {};
    for (const key of Object.keys(inputs)) {
      if (key !== 'target_tokens' && !ranks.has(key)) {
        throw new EngineUserError(`datum ${i}: loss_fn_inputs.${key} is not an input of the custom loss (it reads ${['target_tokens', ...ranks.keys()].join(', ')})`);
      }
    }
    if (inputs.target_tokens == null) throw new EngineUserError(`datum ${i}: a custom loss requires loss_fn_inputs.target_tokens`);
    const tt = dense(inputs.target_tokens, `datum ${i}: loss_fn_inputs.target_tokens`);
    if (tt.values.length !== N) throw new EngineUserError(`datum ${i}: target_tokens has ${tt.values.length} values but model_input has ${N} tokens`);
    const targets = Int32Array.from(tt.values);
    for (let j = 0; j < N; j++) {
      if (targets[j] !== tt.values[j] || targets[j] < 0) throw new EngineUserError(`datum ${i}: target_tokens[${j}] = ${tt.values[j]} is not a valid token id`);
    }
    for (const [name, rank] of ranks) {
      if (inputs[name] == null) throw new EngineUserError(`datum ${i}: the custom loss reads loss_fn_inputs.${name}`);
      values[name]!.push(floatInput(d, name, rank === 1 ? N : 1, i));
    }
    return { tokens, targets };
  });
  const batch = packSequences(model.config, sequences, 1);
  const perDatum = (all: Float32Array) => sequences.map((s, i) => all.subarray(batch.seqStarts[i], batch.seqStarts[i] + s.tokens.length));
  let evaluated = undefined as LossProgramResult | undefined;
  let logprobs: Float32Array;
  if (forwardOnly) {
    logprobs = runTrainingPass(k, model, adapter, batch);
    evaluated = evaluateLossProgram(program, { ...values, logprobs: perDatum(logprobs) }, false);
  } else {
    logprobs = runTrainingPass(k, model, adapter, batch, {
      batchLossGradient: (lp, dlp) => {
        evaluated = evaluateLossProgram(program, { ...values, logprobs: perDatum(lp) }, true);
        evaluated.dlogprobs!.forEach((g, i) => dlp.set(g, batch.seqStarts[i]));
      },
    });
  }
  const outputs = perDatum(logprobs).map((lp) => ({ logprobs: { data: Array.from(lp), dtype: 'float32' as const, shape: [lp.length] } }));
  return { loss_fn_output_type: LOSS_FN_OUTPUT_TYPE, loss_fn_outputs: outputs, metrics: evaluated!.metrics };
}

/** optim_step: AdamW on the accumulated gradients, which are then cleared. */
export function runOptimStep(k: Kernels, adapter: AdapterState, adam: AdamParams): { metrics: Record<string, number> } {
  return { metrics: optimStep(k, adapter, adam) };
}
