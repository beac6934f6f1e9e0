/**
 * Qwen3-MoE structure shared by loading, initialisation, LoRA and export: which layers are sparse,
 * and the LoRA keys of the experts. PEFT 0.21 on transformers 5 reaches the experts through
 * `target_parameters` on the stacked `mlp.experts.gate_up_proj` [E, 2·ffe, d] and
 * `mlp.experts.down_proj` [E, d, ffe]; when asked for the per-expert names (`gate_proj`, `up_proj`,
 * `down_proj`) it converts them to those, giving the fused gate_up adapter rank 2r and alpha 2α (so
 * the scale stays α/r), and dense MLP layers of the MoE model get no adapter. The engine trains the
 * same: one adapter per expert on gate_up (rank 2r) and on down (rank r).
 */
import type { ModelConfig } from './model-types.js';

export type ExpertProjection = 'gate_up' | 'down';

/** Whether layer `layer` holds routed experts (`Qwen3MoeDecoderLayer`'s rule). */
export function isSparseLayer(cfg: ModelConfig, layer: number): boolean {
  const m = cfg.moe;
  if (m === undefined) return false;
  return !m.mlpOnlyLayers.includes(layer) && m.numExperts > 0 && (layer + 1) % m.decoderSparseStep === 0;
}

/** "layers.3.experts.7.gate_up": expert 7's adapter on the fused gate/up projection of layer 3. */
export function expertLoraKey(layer: number, expert: number, proj: ExpertProjection): string {
  return `layers.${layer}.experts.${expert}.${proj}`;
}

export function parseExpertLoraKey(key: string): { layer: number; expert: number; proj: ExpertProjection } | null {
  const m = /^layers\.(\d+)\.experts\.(\d+)\.(gate_up|down)$/.exec(key);
  return m ? { layer: Number(m[1]), expert: Number(m[2]), proj: m[3] as ExpertProjection } : null;
}

/** LoRA rank of an expert projection for an adapter of rank r (PEFT doubles the fused gate_up). */
export function expertLoraRank(proj: ExpertProjection, rank: number): number {
  return proj === 'gate_up' ? 2 * rank : rank;
}

/** [in, out] of an expert projection. */
export function expertDims(cfg: ModelConfig, proj: ExpertProjection): { inDim: number; outDim: number } {
  const ffe = cfg.moe!.moeIntermediateSize;
  return proj === 'gate_up' ? { inDim: cfg.hiddenSize, outDim: 2 * ffe } : { inDim: ffe, outDim: cfg.hiddenSize };
}
