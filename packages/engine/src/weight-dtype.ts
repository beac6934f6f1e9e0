/**
 * How a model's frozen base weights are stored: f32, or bf16 (bfloat16: the top 16 bits of an
 * f32, kept as raw bit patterns in a Uint16Array), which halves their memory. bf16 applies to
 * the weights the big GEMMs read (the seven linears of every layer, the routed experts of MoE
 * layers, the embedding and the head);
 * norm weights, LoRA weights, gradients, optimizer state and activations stay f32.
 */
import { EngineUserError } from './errors.js';
import type { Kernels } from './kernels.js';
import type { LayerWeights, ModelWeights } from './model-types.js';

export type WeightDtype = 'bf16' | 'f32';

export const WEIGHT_DTYPES: readonly WeightDtype[] = ['bf16', 'f32'];

/** A bf16 tensor: one 16-bit pattern per element. */
export type Bf16Array = Uint16Array;

/** A frozen base weight in either storage. */
export type FrozenWeight = Float32Array | Bf16Array;

/** Checks a dtype named by a user (CLI, options); anything else is refused by name. */
export function parseWeightDtype(value: unknown, what = 'dtype'): WeightDtype {
  if (value === 'bf16' || value === 'f32') return value;
  throw new EngineUserError(`${what} ${JSON.stringify(value)} is not supported (expected ${WEIGHT_DTYPES.join(' or ')})`);
}

export function isBf16(w: FrozenWeight): w is Bf16Array {
  return w instanceof Uint16Array;
}

/** bf16 of an f32 bit pattern, rounded to the nearest even (as torch does); NaN stays a quiet NaN. */
export function f32BitsToBf16(u: number): number {
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return 0x7fc0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** x rounded to bf16, stored as bf16. */
export function toBf16(x: Float32Array): Bf16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = f32BitsToBf16(bits[i]);
  return out;
}

/** The exact f32 values of a bf16 tensor. */
export function bf16ToFloat32(h: Bf16Array): Float32Array {
  const out = new Float32Array(h.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < h.length; i++) bits[i] = h[i] << 16;
  return out;
}

/** A frozen weight as f32 values (a view of it when it already is f32). */
export function frozenAsFloat32(w: FrozenWeight): Float32Array {
  return isBf16(w) ? bf16ToFloat32(w) : w;
}

const LINEARS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const satisfies readonly (keyof LayerWeights)[];

/** Every weight of a model with its storage, so accounting and conversion see the same set. */
function* allTensors(w: ModelWeights<FrozenWeight>): Generator<FrozenWeight> {
  yield w.embed;
  if (w.lmHead) yield w.lmHead;
  yield w.finalNorm;
  for (const l of w.layers) {
    for (const name of LINEARS) yield l[name];
    yield l.inputNorm;
    yield l.postAttnNorm;
    if (l.qNorm) yield l.qNorm;
    if (l.kNorm) yield l.kNorm;
    // A sparse layer's router and experts (always f32).
    if (l.moe) yield* [l.moe.router, l.moe.gateUp, l.moe.down];
  }
}

/** Bytes the base weights take in memory (the engine's own accounting, not the process's RSS). */
export function baseWeightBytes(w: ModelWeights<FrozenWeight>): number {
  let bytes = 0;
  for (const t of allTensors(w)) bytes += t.byteLength;
  return bytes;
}

/** "bf16" when the linears are stored as bf16, else "f32". */
export function weightDtypeOf(w: ModelWeights<FrozenWeight>): WeightDtype {
  return w.layers.length > 0 ? (isBf16(w.layers[0].q) ? 'bf16' : 'f32') : isBf16(w.embed) ? 'bf16' : 'f32';
}

/** The same weights stored as `dtype` (rounded to bf16, or widened exactly to f32); norms stay f32. */
export function convertWeights(w: ModelWeights<FrozenWeight>, dtype: WeightDtype): ModelWeights<FrozenWeight> {
  const conv = (t: FrozenWeight): FrozenWeight => (dtype === 'bf16' ? (isBf16(t) ? t : toBf16(t)) : frozenAsFloat32(t));
  return {
    embed: conv(w.embed),
    lmHead: w.lmHead ? conv(w.lmHead) : null,
    finalNorm: w.finalNorm,
    layers: w.layers.map((l) => ({
      ...l, q: conv(l.q), k: conv(l.k), v: conv(l.v), o: conv(l.o), gate: conv(l.gate), up: conv(l.up), down: conv(l.down),
      moe: l.moe ? { router: l.moe.router, gateUp: conv(l.moe.gateUp), down: conv(l.moe.down) } : l.moe,
    })),
  };
}

/**
 * C = alpha · A · op(B) + beta · C over a frozen weight B in either storage (A never transposed):
 * the bf16 GEMM for bf16 weights, the f32 one otherwise. transB: B is stored [N, K].
 */
export function gemmFrozen(
  k: Kernels, transB: boolean, M: number, N: number, K: number, alpha: number, A: Float32Array, B: FrozenWeight,
  beta: number, C: Float32Array, opts?: { bOffset?: number },
): void {
  if (isBf16(B)) k.gemmBf16(transB, M, N, K, alpha, A, B, beta, C, opts);
  else k.gemm(false, transB, M, N, K, alpha, A, B, beta, C, opts);
}
