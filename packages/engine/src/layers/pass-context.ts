// What every stage of one pass shares (kernels, weights, the adapter, positions, RoPE tables), and
// the lookup of one module's LoRA pair for its forward and backward.
import type { Kernels } from '../kernels.js';
import type { LoadedModel, LoraPair, LoraParams, LoraSettings, ModelConfig, ModelWeights } from '../model-types.js';
import type { FrozenWeight } from '../weight-dtype.js';
import { loraScale } from '../lora.js';
import { ropeTablesFor, type RopeTables } from '../rope-tables.js';
import type { RouterLoad } from '../router-load.js';

/** An adapter as the model sees it; `grads` is only needed for training. */
export interface AdapterView {
  settings: LoraSettings;
  params: LoraParams;
  grads?: LoraParams;
}

/** What every stage of one pass needs. The stage functions are exported so tests can check each backward alone. */
export interface PassContext {
  k: Kernels;
  cfg: ModelConfig;
  w: ModelWeights<FrozenWeight>;
  adapter: AdapterView | null;
  loraScale: number;
  rank: number;
  rows: number;
  positions: Int32Array;
  rope: RopeTables;
  /** Where sparse layers report their router load (null: not collected). */
  routerLoad: RouterLoad | null;
}

export function makeContext(k: Kernels, model: LoadedModel<FrozenWeight>, adapter: AdapterView | null, positions: Int32Array, maxPosition: number): PassContext {
  return {
    k, cfg: model.config, w: model.weights, adapter,
    loraScale: adapter === null ? 0 : loraScale(adapter.settings),
    rank: adapter === null ? 0 : adapter.settings.rank,
    rows: positions.length, positions,
    rope: ropeTablesFor(model.config, maxPosition + 1),
    routerLoad: null,
  };
}

export function loraForward(ctx: PassContext, key: string, u: Float32Array | undefined): { pair: LoraPair; scale: number; u: Float32Array } | null {
  if (ctx.adapter === null || u === undefined) return null;
  const pair = ctx.adapter.params.get(key);
  if (pair === undefined) return null;
  return { pair, scale: ctx.loraScale, u };
}

export function loraBackward(ctx: PassContext, key: string, u: Float32Array | undefined, du: Float32Array):
  { pair: LoraPair; grad: LoraPair; scale: number; u: Float32Array; du: Float32Array } | null {
  const fwd = loraForward(ctx, key, u);
  if (fwd === null) return null;
  const grad = ctx.adapter!.grads?.get(key);
  if (grad === undefined) throw new Error(`adapter has no gradient buffer for ${key}`);
  return { ...fwd, grad, du };
}

