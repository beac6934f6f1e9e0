/**
 * Expert adapters of a Qwen3-MoE model in PEFT 0.21's layout for transformers 5, where LoRA wraps
 * the stacked expert parameters (`target_parameters`). One layer's experts are two nested
 * ParamWrappers: the inner (`mlp.experts.base_layer`) on gate_up_proj, the outer (`mlp.experts`)
 * on down_proj. Each holds lora_A [R·E, in] (expert e's A is rows e·R..e·R+R-1) and lora_B
 * [out, R·E] (expert e's B[o, j] is column j·E + e), as ParamWrapper.get_delta_weight reshapes them.
 */
import { EngineUserError } from './errors.js';
import { expertDims, expertLoraKey, expertLoraRank, isSparseLayer, type ExpertProjection } from './moe-config.js';
import { tensorAsFloat32, type NamedTensor, type SafetensorsFile } from './safetensors.js';
import type { LoraParams, ModelConfig } from './model-types.js';

/** The PEFT module of one layer's adapter on an expert projection. */
export function expertPeftModule(layer: number, proj: ExpertProjection): string {
  return `base_model.model.model.layers.${layer}.mlp.experts${proj === 'gate_up' ? '.base_layer' : ''}`;
}

/** The adapter_config.json fields that make PEFT build the same expert adapters. */
export function expertPeftConfig(rank: number, alpha: number): Record<string, unknown> {
  return {
    target_parameters: ['mlp.experts.gate_up_proj', 'mlp.experts.down_proj'],
    rank_pattern: { '.*\\.gate_up_proj': expertLoraRank('gate_up', rank) },
    alpha_pattern: { '.*\\.gate_up_proj': 2 * alpha },
  };
}

/** Adds the stacked PEFT tensors of every expert adapter in `params` to `out`. */
export function addExpertPeftTensors(out: Map<string, NamedTensor>, cfg: ModelConfig, rank: number, params: LoraParams): void {
  for (let layer = 0; layer < cfg.numLayers; layer++) {
    if (!isSparseLayer(cfg, layer) || !params.has(expertLoraKey(layer, 0, 'down'))) continue;
    for (const proj of ['gate_up', 'down'] as const) {
      const E = cfg.moe!.numExperts;
      const R = expertLoraRank(proj, rank);
      const { inDim, outDim } = expertDims(cfg, proj);
      const A = new Float32Array(R * E * inDim);
      const B = new Float32Array(outDim * R * E);
      for (let e = 0; e < E; e++) {
        const p = params.get(expertLoraKey(layer, e, proj))!;
        A.set(p.A, e * R * inDim);
        for (let o = 0; o < outDim; o++) for (let j = 0; j < R; j++) B[o * R * E + j * E + e] = p.B[o * R + j];
      }
      const name = expertPeftModule(layer, proj);
      out.set(`${name}.lora_A.weight`, { data: A, shape: [R * E, inDim] });
      out.set(`${name}.lora_B.weight`, { data: B, shape: [outDim, R * E] });
    }
  }
}

/**
 * Fills the expert adapters of `params` (already shaped for `cfg`) from a PEFT file; returns the
 * PEFT module names it read. A layer whose experts the file leaves out keeps its fresh adapters.
 */
export function readExpertPeftTensors(file: SafetensorsFile, dir: string, cfg: ModelConfig, rank: number, params: LoraParams): Set<string> {
  const read = new Set<string>();
  for (let layer = 0; layer < cfg.numLayers; layer++) {
    if (!isSparseLayer(cfg, layer)) continue;
    for (const proj of ['gate_up', 'down'] as const) {
      const name = expertPeftModule(layer, proj);
      const tensor = (ab: 'A' | 'B'): string | null => {
        for (const n of [`${name}.lora_${ab}.weight`, `${name}.lora_${ab}.default.weight`]) if (file.tensors.has(n)) return n;
        return null;
      };
      const aName = tensor('A');
      const bName = tensor('B');
      if (aName === null || bName === null) continue;
      const E = cfg.moe!.numExperts;
      const R = expertLoraRank(proj, rank);
      const { inDim, outDim } = expertDims(cfg, proj);
      for (const [n, shape] of [[aName, [R * E, inDim]], [bName, [outDim, R * E]]] as const) {
        const got = file.tensors.get(n)!.shape;
        if (got.length !== 2 || got[0] !== shape[0] || got[1] !== shape[1]) {
          throw new EngineUserError(`${dir}: tensor "${n}" has shape [${got}], the base model with rank ${rank} needs [${shape}]`);
        }
      }
      const A = tensorAsFloat32(file, aName);
      const B = tensorAsFloat32(file, bName);
      for (let e = 0; e < E; e++) {
        const p = params.get(expertLoraKey(layer, e, proj));
        if (p === undefined) throw new EngineUserError(`${dir}: adapter module "${name}" does not exist in the base model`);
        p.A.set(A.subarray(e * R * inDim, (e + 1) * R * inDim));
        for (let o = 0; o < outDim; o++) for (let j = 0; j < R; j++) p.B[o * R + j] = B[o * R * E + j * E + e];
      }
      read.add(name);
    }
  }
  return read;
}
