/**
 * Hugging Face `config.json` → ModelConfig, for the two decoder families the engine runs:
 * `LlamaForCausalLM` and `Qwen3ForCausalLM`. Unsupported architectures or options fail with
 * a message naming the field, instead of silently computing a different model.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineUserError } from './errors.js';
import type { ModelConfig, ModelFamily, MoeConfig, RopeScaling } from './model-types.js';

const ARCHITECTURES: Record<string, ModelFamily> = {
  LlamaForCausalLM: 'llama',
  Qwen3ForCausalLM: 'qwen3',
  Qwen3MoeForCausalLM: 'qwen3',
};

type Json = Record<string, unknown>;

function num(cfg: Json, key: string, where: string, fallback?: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new EngineUserError(`${where}: config.json is missing "${key}"`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new EngineUserError(`${where}: config.json "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function eosIds(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

/** Converts a parsed config.json; `where` names the source in error messages. */
export function modelConfigFromHf(cfg: Json, where = 'config.json'): ModelConfig {
  const archs = Array.isArray(cfg.architectures) ? (cfg.architectures as unknown[]) : [];
  const arch = archs.find((a): a is string => typeof a === 'string' && a in ARCHITECTURES);
  let family: ModelFamily | undefined = arch ? ARCHITECTURES[arch] : undefined;
  if (!family && cfg.model_type === 'llama') family = 'llama';
  if (!family && (cfg.model_type === 'qwen3' || cfg.model_type === 'qwen3_moe')) family = 'qwen3';
  if (!family) {
    throw new EngineUserError(`${where}: unsupported architecture ${JSON.stringify(cfg.architectures ?? cfg.model_type)}; supported: ${Object.keys(ARCHITECTURES).join(', ')}`);
  }
  const hiddenSize = num(cfg, 'hidden_size', where);
  const numHeads = num(cfg, 'num_attention_heads', where);
  const numKvHeads = num(cfg, 'num_key_value_heads', where, numHeads);
  const headDim = num(cfg, 'head_dim', where, hiddenSize / numHeads);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new EngineUserError(`${where}: head_dim ${headDim} must be an even integer`);
  if (numHeads % numKvHeads !== 0) throw new EngineUserError(`${where}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  if (cfg.attention_bias === true) throw new EngineUserError(`${where}: attention_bias=true is not supported`);
  if (cfg.mlp_bias === true) throw new EngineUserError(`${where}: mlp_bias=true is not supported`);
  const act = cfg.hidden_act ?? 'silu';
  if (act !== 'silu') throw new EngineUserError(`${where}: hidden_act ${JSON.stringify(act)} is not supported (only silu)`);
  const isMoe = arch === 'Qwen3MoeForCausalLM' || (arch === undefined && cfg.model_type === 'qwen3_moe');
  // transformers 5 writes rope_theta (and the rope type) inside rope_parameters.
  const ropeParams = typeof cfg.rope_parameters === 'object' && cfg.rope_parameters !== null ? cfg.rope_parameters as Json : null;
  const ropeTheta = cfg.rope_theta ?? ropeParams?.rope_theta;
  return {
    family,
    vocabSize: num(cfg, 'vocab_size', where),
    hiddenSize,
    intermediateSize: num(cfg, 'intermediate_size', where),
    numLayers: num(cfg, 'num_hidden_layers', where),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num(cfg, 'rms_norm_eps', where, 1e-6),
    ropeTheta: num({ rope_theta: ropeTheta }, 'rope_theta', where, 10000),
    ropeScaling: ropeScalingFromHf(cfg.rope_scaling ?? ropeParams, where),
    maxPositionEmbeddings: num(cfg, 'max_position_embeddings', where, 4096),
    tieWordEmbeddings: cfg.tie_word_embeddings === true,
    bosTokenId: typeof cfg.bos_token_id === 'number' ? cfg.bos_token_id : null,
    eosTokenIds: eosIds(cfg.eos_token_id),
    ...(isMoe ? { moe: moeConfigFromHf(cfg, where, num(cfg, 'num_hidden_layers', where)) } : {}),
  };
}

/** The sparse-block fields of a Qwen3-MoE config.json; options the engine does not compute are refused. */
function moeConfigFromHf(cfg: Json, where: string, numLayers: number): MoeConfig {
  const numExperts = num(cfg, 'num_experts', where, typeof cfg.num_local_experts === 'number' ? cfg.num_local_experts : undefined);
  const numExpertsPerTok = num(cfg, 'num_experts_per_tok', where);
  if (!Number.isInteger(numExperts) || numExperts < 1) throw new EngineUserError(`${where}: num_experts ${numExperts} must be a positive integer`);
  if (!Number.isInteger(numExpertsPerTok) || numExpertsPerTok < 1 || numExpertsPerTok > numExperts) {
    throw new EngineUserError(`${where}: num_experts_per_tok ${numExpertsPerTok} must be an integer in 1..num_experts (${numExperts})`);
  }
  const step = num(cfg, 'decoder_sparse_step', where, 1);
  if (!Number.isInteger(step) || step < 1) throw new EngineUserError(`${where}: decoder_sparse_step ${step} must be a positive integer`);
  const only = cfg.mlp_only_layers ?? [];
  if (!Array.isArray(only) || only.some((l) => typeof l !== 'number' || !Number.isInteger(l) || l < 0 || l >= numLayers)) {
    throw new EngineUserError(`${where}: mlp_only_layers must be a list of layer indices in 0..${numLayers - 1}, got ${JSON.stringify(only)}`);
  }
  if (cfg.output_router_logits === true) {
    throw new EngineUserError(`${where}: output_router_logits=true (the router auxiliary loss) is not supported; the engine trains on the token losses only`);
  }
  if (cfg.use_sliding_window === true) throw new EngineUserError(`${where}: use_sliding_window=true is not supported`);
  if (typeof cfg.shared_expert_intermediate_size === 'number' && cfg.shared_expert_intermediate_size > 0) {
    throw new EngineUserError(`${where}: shared experts (shared_expert_intermediate_size) are not part of Qwen3-MoE and are not supported`);
  }
  return {
    numExperts, numExpertsPerTok,
    moeIntermediateSize: num(cfg, 'moe_intermediate_size', where),
    normTopkProb: cfg.norm_topk_prob === true,
    decoderSparseStep: step,
    mlpOnlyLayers: (only as number[]).slice(),
  };
}

function ropeScalingFromHf(raw: unknown, where: string): RopeScaling | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object') throw new EngineUserError(`${where}: rope_scaling must be an object`);
  const r = raw as Json;
  const type = r.rope_type ?? r.type;
  if (type === 'default') return null;
  if (type !== 'llama3') throw new EngineUserError(`${where}: rope_scaling type ${JSON.stringify(type)} is not supported (only llama3)`);
  return {
    type: 'llama3',
    factor: num(r, 'factor', `${where} rope_scaling`),
    lowFreqFactor: num(r, 'low_freq_factor', `${where} rope_scaling`),
    highFreqFactor: num(r, 'high_freq_factor', `${where} rope_scaling`),
    originalMaxPositionEmbeddings: num(r, 'original_max_position_embeddings', `${where} rope_scaling`),
  };
}

/** Reads `<dir>/config.json`; when `generation_config.json` lists more EOS ids they are added. */
export function readHfConfig(dir: string): ModelConfig {
  const path = join(dir, 'config.json');
  let raw: Json;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Json;
  } catch (e) {
    throw new EngineUserError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const cfg = modelConfigFromHf(raw, path);
  try {
    const gen = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')) as Json;
    for (const id of eosIds(gen.eos_token_id)) if (!cfg.eosTokenIds.includes(id)) cfg.eosTokenIds.push(id);
  } catch {
    // generation_config.json is optional
  }
  return cfg;
}

/** The inverse, used to write test checkpoints and to describe stand-ins in HF terms. */
export function modelConfigToHf(cfg: ModelConfig): Json {
  const out: Json = {
    architectures: [cfg.moe ? 'Qwen3MoeForCausalLM' : cfg.family === 'llama' ? 'LlamaForCausalLM' : 'Qwen3ForCausalLM'],
    model_type: cfg.moe ? 'qwen3_moe' : cfg.family === 'llama' ? 'llama' : 'qwen3',
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numLayers,
    num_attention_heads: cfg.numHeads,
    num_key_value_heads: cfg.numKvHeads,
    head_dim: cfg.headDim,
    hidden_act: 'silu',
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    max_position_embeddings: cfg.maxPositionEmbeddings,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenIds.length === 1 ? cfg.eosTokenIds[0] : cfg.eosTokenIds,
    torch_dtype: 'float32',
  };
  if (cfg.moe) {
    Object.assign(out, {
      num_experts: cfg.moe.numExperts, num_experts_per_tok: cfg.moe.numExpertsPerTok, moe_intermediate_size: cfg.moe.moeIntermediateSize,
      norm_topk_prob: cfg.moe.normTopkProb, decoder_sparse_step: cfg.moe.decoderSparseStep, mlp_only_layers: cfg.moe.mlpOnlyLayers,
      output_router_logits: false,
    });
  }
  if (cfg.ropeScaling) {
    out.rope_scaling = {
      rope_type: 'llama3',
      factor: cfg.ropeScaling.factor,
      low_freq_factor: cfg.ropeScaling.lowFreqFactor,
      high_freq_factor: cfg.ropeScaling.highFreqFactor,
      original_max_position_embeddings: cfg.ropeScaling.originalMaxPositionEmbeddings,
    };
  }
  return out;
}
