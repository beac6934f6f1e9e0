/**
 * Hugging Face checkpoint tensors → ModelWeights. Reads `model.safetensors` or the shards
 * listed in `model.safetensors.index.json`; every tensor's shape is checked against the config,
 * so a mismatched checkpoint fails at load with the tensor's name. The frozen weights (linears,
 * embedding, head) are kept in the dtype asked for: bf16 tensors are copied as they are (never
 * through f32), f32 ones rounded to bf16 on load when bf16 is asked; norms are widened to f32.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineUserError } from './errors.js';
import { readSafetensorsFile, tensorAsBf16, tensorAsFloat32, writeSafetensorsFile, type NamedTensor, type SafetensorsFile } from './safetensors.js';
import type { LayerWeights, ModelConfig, ModelWeights, MoeLayerWeights } from './model-types.js';
import { isSparseLayer } from './moe-config.js';
import { frozenAsFloat32, type FrozenWeight, type WeightDtype } from './weight-dtype.js';

/** Opens every safetensors file of a model directory; returns tensor name → the file holding it. */
function openCheckpoint(dir: string): Map<string, SafetensorsFile> {
  const byName = new Map<string, SafetensorsFile>();
  const indexPath = join(dir, 'model.safetensors.index.json');
  let files: string[];
  if (existsSync(indexPath)) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (e) {
      throw new EngineUserError(`cannot read ${indexPath}: ${(e as Error).message}`);
    }
    if (!index.weight_map || typeof index.weight_map !== 'object') throw new EngineUserError(`${indexPath} has no weight_map`);
    files = [...new Set(Object.values(index.weight_map))];
  } else if (existsSync(join(dir, 'model.safetensors'))) {
    files = ['model.safetensors'];
  } else {
    throw new EngineUserError(`${dir} has neither model.safetensors nor model.safetensors.index.json`);
  }
  for (const f of files) {
    const file = readSafetensorsFile(join(dir, f));
    for (const name of file.tensors.keys()) byName.set(name, file);
  }
  return byName;
}

/** The dtype a checkpoint stores its weights in, as the engine keeps them: bf16 for BF16, f32 for anything else. */
export function checkpointWeightDtype(dir: string): WeightDtype {
  const files = openCheckpoint(dir);
  const embed = files.get('model.embed_tokens.weight')?.tensors.get('model.embed_tokens.weight');
  return embed?.dtype === 'BF16' ? 'bf16' : 'f32';
}

/**
 * Reads the base-model weights of a HF directory for `cfg`, the frozen ones as `dtype` (default
 * f32: every tensor widened; the model registry passes the checkpoint's own dtype unless told).
 */
export function readHfWeights(dir: string, cfg: ModelConfig): ModelWeights;
export function readHfWeights(dir: string, cfg: ModelConfig, dtype: WeightDtype): ModelWeights<FrozenWeight>;
export function readHfWeights(dir: string, cfg: ModelConfig, dtype: WeightDtype = 'f32'): ModelWeights<FrozenWeight> {
  const files = openCheckpoint(dir);
  const asked = dtype;
  const fileOf = (name: string, shape: number[]): SafetensorsFile => {
    const file = files.get(name);
    if (!file) throw new EngineUserError(`${dir}: checkpoint has no tensor "${name}"`);
    const actual = file.tensors.get(name)!.shape;
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new EngineUserError(`${dir}: tensor "${name}" has shape [${actual}], config needs [${shape}]`);
    }
    return file;
  };
  const get = (name: string, shape: number[]): Float32Array => tensorAsFloat32(fileOf(name, shape), name);
  const frozen = (name: string, shape: number[]): FrozenWeight =>
    asked === 'bf16' ? tensorAsBf16(fileOf(name, shape), name) : tensorAsFloat32(fileOf(name, shape), name);
  const { hiddenSize: d, headDim: hd, numHeads: H, numKvHeads: KVH, intermediateSize: ff, vocabSize: V } = cfg;
  const layers: LayerWeights<FrozenWeight>[] = [];
  const empty = new Float32Array(0);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const sparse = isSparseLayer(cfg, i);
    layers.push({
      inputNorm: get(`${p}input_layernorm.weight`, [d]),
      q: frozen(`${p}self_attn.q_proj.weight`, [H * hd, d]),
      k: frozen(`${p}self_attn.k_proj.weight`, [KVH * hd, d]),
      v: frozen(`${p}self_attn.v_proj.weight`, [KVH * hd, d]),
      o: frozen(`${p}self_attn.o_proj.weight`, [d, H * hd]),
      qNorm: cfg.family === 'qwen3' ? get(`${p}self_attn.q_norm.weight`, [hd]) : null,
      kNorm: cfg.family === 'qwen3' ? get(`${p}self_attn.k_norm.weight`, [hd]) : null,
      postAttnNorm: get(`${p}post_attention_layernorm.weight`, [d]),
      gate: sparse ? empty : frozen(`${p}mlp.gate_proj.weight`, [ff, d]),
      up: sparse ? empty : frozen(`${p}mlp.up_proj.weight`, [ff, d]),
      down: sparse ? empty : frozen(`${p}mlp.down_proj.weight`, [d, ff]),
      moe: sparse ? readExperts(files, `${p}mlp.`, cfg, get, frozen, asked) : null,
    });
  }
  const embed = frozen('model.embed_tokens.weight', [V, d]);
  // Some tied checkpoints still store lm_head; it then equals the embedding and is not needed.
  const lmHead = cfg.tieWordEmbeddings ? null : frozen('lm_head.weight', [V, d]);
  return { embed, layers, finalNorm: get('model.norm.weight', [d]), lmHead };
}

/**
 * A sparse layer's router and experts. Checkpoints store the experts one by one
 * (`experts.<e>.gate_proj.weight`, as transformers saves them) or stacked
 * (`experts.gate_up_proj` [E, 2·ffe, d], `experts.down_proj` [E, d, ffe]); both load.
 */
function readExperts(files: Map<string, SafetensorsFile>, p: string, cfg: ModelConfig,
  get: (name: string, shape: number[]) => Float32Array, frozen: (name: string, shape: number[]) => FrozenWeight,
  dtype: WeightDtype): MoeLayerWeights<FrozenWeight> {
  const { hiddenSize: d } = cfg;
  const { numExperts: E, moeIntermediateSize: ffe } = cfg.moe!;
  const router = get(`${p}gate.weight`, [E, d]);
  if (files.has(`${p}experts.gate_up_proj`)) {
    return { router, gateUp: frozen(`${p}experts.gate_up_proj`, [E, 2 * ffe, d]), down: frozen(`${p}experts.down_proj`, [E, d, ffe]) };
  }
  // Stacked in the storage asked for, expert by expert (no f32 copy of a bf16 checkpoint).
  const alloc = (n: number): FrozenWeight => (dtype === 'bf16' ? new Uint16Array(n) : new Float32Array(n));
  const put = (into: FrozenWeight, from: FrozenWeight, at: number) => (into as Uint16Array).set(from as Uint16Array, at);
  const gateUp = alloc(E * 2 * ffe * d);
  const down = alloc(E * d * ffe);
  for (let e = 0; e < E; e++) {
    const q = `${p}experts.${e}.`;
    put(gateUp, frozen(`${q}gate_proj.weight`, [ffe, d]), e * 2 * ffe * d);
    put(gateUp, frozen(`${q}up_proj.weight`, [ffe, d]), (e * 2 + 1) * ffe * d);
    put(down, frozen(`${q}down_proj.weight`, [d, ffe]), e * d * ffe);
  }
  return { router, gateUp, down };
}

/** HF tensor names and shapes of a model's weights (the inverse of readHfWeights), bf16 ones widened exactly to f32. */
export function hfTensorsOf(cfg: ModelConfig, w: ModelWeights<FrozenWeight>): Map<string, NamedTensor> {
  const { hiddenSize: d, headDim: hd, numHeads: H, numKvHeads: KVH, intermediateSize: ff, vocabSize: V } = cfg;
  const out = new Map<string, NamedTensor>();
  out.set('model.embed_tokens.weight', { data: frozenAsFloat32(w.embed), shape: [V, d] });
  out.set('model.norm.weight', { data: w.finalNorm, shape: [d] });
  if (w.lmHead) out.set('lm_head.weight', { data: frozenAsFloat32(w.lmHead), shape: [V, d] });
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}.`;
    out.set(`${p}input_layernorm.weight`, { data: l.inputNorm, shape: [d] });
    out.set(`${p}self_attn.q_proj.weight`, { data: frozenAsFloat32(l.q), shape: [H * hd, d] });
    out.set(`${p}self_attn.k_proj.weight`, { data: frozenAsFloat32(l.k), shape: [KVH * hd, d] });
    out.set(`${p}self_attn.v_proj.weight`, { data: frozenAsFloat32(l.v), shape: [KVH * hd, d] });
    out.set(`${p}self_attn.o_proj.weight`, { data: frozenAsFloat32(l.o), shape: [d, H * hd] });
    if (l.qNorm) out.set(`${p}self_attn.q_norm.weight`, { data: l.qNorm, shape: [hd] });
    if (l.kNorm) out.set(`${p}self_attn.k_norm.weight`, { data: l.kNorm, shape: [hd] });
    out.set(`${p}post_attention_layernorm.weight`, { data: l.postAttnNorm, shape: [d] });
    if (l.moe) {
      // One tensor per expert, as transformers saves Qwen3-MoE checkpoints.
      const { numExperts: E, moeIntermediateSize: ffe } = cfg.moe!;
      out.set(`${p}mlp.gate.weight`, { data: l.moe.router, shape: [E, d] });
      for (let e = 0; e < E; e++) {
        const q = `${p}mlp.experts.${e}.`;
        out.set(`${q}gate_proj.weight`, { data: frozenAsFloat32(l.moe.gateUp.subarray(e * 2 * ffe * d, (e * 2 + 1) * ffe * d)), shape: [ffe, d] });
        out.set(`${q}up_proj.weight`, { data: frozenAsFloat32(l.moe.gateUp.subarray((e * 2 + 1) * ffe * d, (e + 1) * 2 * ffe * d)), shape: [ffe, d] });
        out.set(`${q}down_proj.weight`, { data: frozenAsFloat32(l.moe.down.subarray(e * d * ffe, (e + 1) * d * ffe)), shape: [d, ffe] });
      }
      return;
    }
    out.set(`${p}mlp.gate_proj.weight`, { data: frozenAsFloat32(l.gate), shape: [ff, d] });
    out.set(`${p}mlp.up_proj.weight`, { data: frozenAsFloat32(l.up), shape: [ff, d] });
    out.set(`${p}mlp.down_proj.weight`, { data: frozenAsFloat32(l.down), shape: [d, ff] });
  });
  return out;
}

/** Writes weights as a single `model.safetensors` (used by tests and to export stand-ins). */
export function writeHfWeights(dir: string, cfg: ModelConfig, w: ModelWeights<FrozenWeight>, dtype: 'F32' | 'BF16' = 'F32'): void {
  writeSafetensorsFile(join(dir, 'model.safetensors'), hfTensorsOf(cfg, w), { metadata: { format: 'pt' }, dtype });
}
