// One training example: the model input and the named tensors its loss reads
// (`target_tokens`, `weights`, `advantages`, `logprobs`, ...).
import { LOSS_INPUT_DTYPES, type Datum as WireDatum, type TensorDtype } from '@tinker-ts/protocol';
import { ValidationError } from './errors.js';
import { ModelInput } from './model-input.js';
import { TensorData, flattenRows, type NumericArray } from './tensor-data.js';

export { LOSS_INPUT_DTYPES };

/** What a loss input may be given as; plain arrays take their dtype from the key. */
export type LossFnInputValue = TensorData | NumericArray | readonly (readonly number[])[];

export interface DatumInit {
  modelInput: ModelInput | readonly number[];
  lossFnInputs?: Record<string, LossFnInputValue>;
}

/** 2-D values under these keys are sent as CSR when that is smaller (top-K distillation). */
const SPARSE_ELIGIBLE = new Set(['target_tokens', 'weights']);

export class Datum {
  readonly modelInput: ModelInput;
  readonly lossFnInputs: Readonly<Record<string, TensorData>>;

  constructor(init: DatumInit) {
    if (!init || typeof init !== 'object' || (!(init.modelInput instanceof ModelInput) && !Array.isArray(init.modelInput))) {
      const keys = init && typeof init === 'object' ? Object.keys(init).join(', ') : typeof init;
      throw new ValidationError(`modelInput: a Datum needs modelInput (a ModelInput or token ids); got ${keys || 'nothing'}`, { field: 'model_input' });
    }
    this.modelInput = init.modelInput instanceof ModelInput ? init.modelInput : ModelInput.fromInts(init.modelInput);
    const inputs: Record<string, TensorData> = {};
    for (const [key, value] of Object.entries(init.lossFnInputs ?? {})) {
      inputs[key] = toTensor(key, value);
    }
    this.lossFnInputs = Object.freeze(inputs);
  }

  /**
   * A next-token datum from a full token sequence: the model reads tokens[:-1] and
   * predicts tokens[1:]. `weights` (one per token of the full sequence, default 1)
   * are shifted the same way, so weights[i] weighs predicting tokens[i].
   */
  static fromTokens(tokens: readonly number[], weights?: readonly number[]): Datum {
    if (tokens.length < 2) {
      throw new ValidationError(`tokens: need at least 2 tokens to form a next-token datum, got ${tokens.length}`, { field: 'tokens' });
    }
    if (weights && weights.length !== tokens.length) {
      throw new ValidationError(`weights: ${weights.length} weights for ${tokens.length} tokens`, { field: 'weights' });
    }
    return new Datum({
      modelInput: ModelInput.fromInts(tokens.slice(0, -1)),
      lossFnInputs: {
        target_tokens: TensorData.int64(tokens.slice(1)),
        weights: TensorData.float32(weights ? weights.slice(1) : new Array<number>(tokens.length - 1).fill(1)),
      },
    });
  }

  static fromWire(wire: WireDatum, field = 'datum'): Datum {
    if (!wire || typeof wire !== 'object') throw new ValidationError(`${field}: expected a Datum object`, { field });
    const inputs: Record<string, TensorData> = {};
    for (const [key, t] of Object.entries(wire.loss_fn_inputs ?? {})) {
      inputs[key] = TensorData.fromWire(t, `${field}.loss_fn_inputs.${key}`);
    }
    return new Datum({ modelInput: ModelInput.fromWire(wire.model_input), lossFnInputs: inputs });
  }

  /** A copy with some loss inputs replaced or added. */
  withLossFnInputs(inputs: Record<string, LossFnInputValue>): Datum {
    return new Datum({ modelInput: this.modelInput, lossFnInputs: { ...this.lossFnInputs, ...inputs } });
  }

  toWire(): WireDatum {
    const loss_fn_inputs: WireDatum['loss_fn_inputs'] = {};
    for (const [key, t] of Object.entries(this.lossFnInputs)) loss_fn_inputs[key] = t.toWire();
    return { model_input: this.modelInput.toWire(), loss_fn_inputs };
  }
}

/** Anything accepted where a Datum is expected. */
export type DatumLike = Datum | DatumInit;

export function toDatum(d: DatumLike): Datum {
  return d instanceof Datum ? d : new Datum(d);
}

function toTensor(key: string, value: LossFnInputValue): TensorData {
  const field = `loss_fn_inputs.${key}`;
  if (value instanceof TensorData) return value;
  const dtype = LOSS_INPUT_DTYPES[key] ?? inferDtype(value);
  if (dtype === undefined) {
    throw new ValidationError(`${field}: cannot tell the dtype of a plain array under an unknown key; pass a TensorData`, { field });
  }
  if (Array.isArray(value) && value.length > 0 && Array.isArray(value[0])) {
    const { flat, shape } = flattenRows(value as readonly (readonly number[])[], field);
    const dense = new TensorData(flat, { dtype, shape, field });
    return SPARSE_ELIGIBLE.has(key) ? TensorData.sparsifyIfSmaller(dense) : dense;
  }
  if (Array.isArray(value) && value.some((v) => Array.isArray(v))) {
    throw new ValidationError(`${field}: must be a rectangular numeric array; ragged nested lists are not supported`, { field });
  }
  return new TensorData(value as NumericArray, { dtype, field });
}

function inferDtype(value: LossFnInputValue): TensorDtype | undefined {
  if (value instanceof Float32Array || value instanceof Float64Array) return 'float32';
  if (value instanceof BigInt64Array || value instanceof Int32Array) return 'int64';
  return undefined;
}
