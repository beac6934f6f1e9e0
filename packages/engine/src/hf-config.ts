/**
 * Hugging Face `config.json` → ModelConfig, for the two decoder families the engine runs:
 * `LlamaForCausalLM` and `Qwen3ForCausalLM`. Unsupported architectures or options fail with
 * a message naming the field, instead of silently computing a different model.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineUserError } from './errors.js';
import type { ModelConfig, ModelFamily, RopeScaling } from './model-types.js';

const ARCHITECTURES: Record<string, ModelFamily> = {
  LlamaForCausalLM: 'llama',
  Qwen3ForCausalLM: 'qwen3',
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
  if (!family && cfg.model_type === 'qwen3') family = 'qwen3';
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
    ropeTheta: num(cfg, 'rope_theta', where, 10000),
    ropeScaling: ropeScalingFromHf(cfg.rope_scaling, where),
    maxPositionEmbeddings: num(cfg, 'max_position_embeddings', where, 4096),
    tieWordEmbeddings: cfg.tie_word_embeddings === true,
    bosTokenId: typeof cfg.bos_token_id === 'number' ? cfg.bos_token_id : null,
    eosTokenIds: eosIds(cfg.eos_token_id),
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
    architectures: [cfg.family === 'llama' ? 'LlamaForCausalLM' : 'Qwen3ForCausalLM'],
    model_type: cfg.family === 'llama' ? 'llama' : 'qwen3',
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
