// Learning rates and LoRA sizes as the Tinker cookbook's hyperparam_utils documents them: the
// best LoRA learning rate per hosted model from its supervised sweep (tulu3, batch 128, 780
// steps), ten times lower for full fine-tuning, and the LoRA parameter count
// rank · Σ (rows + columns) over the adapted weight matrices.
import { ValidationError } from '@tinker-ts/sdk';

/** The sweep's best LoRA learning rates, by Tinker model name. */
export const LORA_LEARNING_RATES: Readonly<Record<string, number>> = Object.freeze({
  'Qwen/Qwen3-235B-A22B-Instruct-2507': 3e-4,
  'Qwen/Qwen3-30B-A3B': 1e-3,
  'Qwen/Qwen3-30B-A3B-Base': 1e-3,
  'Qwen/Qwen3-30B-A3B-Instruct-2507': 1e-3,
  'Qwen/Qwen3-32B': 3e-4,
  'Qwen/Qwen3-4B-Instruct-2507': 1e-3,
  'Qwen/Qwen3-8B': 1e-3,
  'Qwen/Qwen3-8B-Base': 1e-3,
  'Qwen/Qwen3-VL-235B-A22B-Instruct': 3e-4,
  'Qwen/Qwen3-VL-30B-A3B-Instruct': 1e-3,
  'Qwen/Qwen3.5-397B-A17B': 3e-4,
  'Qwen/Qwen3.5-35B-A3B': 3e-4,
  'Qwen/Qwen3.5-27B': 3e-4,
  'Qwen/Qwen3.5-4B': 3e-4,
  'deepseek-ai/DeepSeek-V3.1': 4e-4,
  'deepseek-ai/DeepSeek-V3.1-Base': 4e-4,
  'meta-llama/Llama-3.1-70B': 3e-4,
  'meta-llama/Llama-3.1-8B': 3e-4,
  'meta-llama/Llama-3.1-8B-Instruct': 3e-4,
  'meta-llama/Llama-3.2-1B': 1e-3,
  'meta-llama/Llama-3.2-3B': 1e-3,
  'meta-llama/Llama-3.3-70B-Instruct': 3e-4,
  'moonshotai/Kimi-K2-Thinking': 3e-4,
  'moonshotai/Kimi-K2.5': 3e-4,
  'nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16': 4e-4,
  'nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16': 1e-3,
  'openai/gpt-oss-120b': 3e-4,
  'openai/gpt-oss-20b': 1e-4,
});

/** How much higher a LoRA learning rate is than the full fine-tuning one ("LoRA Without Regret": 10). */
export const LORA_OVER_FULL_FINETUNE_LR = 10;

export interface GetLrOptions {
  /** LoRA (default) or full fine-tuning. */
  lora?: boolean;
}

/**
 * The recommended learning rate for `model`. A context-length suffix (`:peft:131072`) is ignored.
 * Throws for a model the sweep did not cover: pick a rate yourself, or sweep.
 */
export function getLr(model: string, opts: GetLrOptions = {}): number {
  const base = model.split(':')[0]!;
  const lr = LORA_LEARNING_RATES[base];
  if (lr === undefined) {
    throw new ValidationError(
      `no calibrated learning rate for ${JSON.stringify(model)}; known models: ${Object.keys(LORA_LEARNING_RATES).sort().join(', ')}. Specify a learning rate or run a sweep.`,
      { field: 'model' },
    );
  }
  return opts.lora === false ? lr / LORA_OVER_FULL_FINETUNE_LR : lr;
}

/** Name → shape of a checkpoint's tensors (from safetensors headers, or `transformerWeightShapes`). */
export type WeightShapes = Readonly<Record<string, readonly number[]>>;

export interface LoraParamCountOptions {
  rank?: number;
  /** Count the MoE experts' matrices (default true). */
  includeExperts?: boolean;
  /** Experts share their outer LoRA factor: count the outer dimension once (default true). */
  sharedExpertOuterLoras?: boolean;
}

export interface LoraParamCount {
  expertParams: number;
  nonExpertParams: number;
  totalParams: number;
}

// The router, the embeddings and DeepSeek's low-rank q/kv up-projections get no adapter.
const NOT_ADAPTED = ['gate', 'embed_tokens', 'q_b_proj', 'kv_b_proj'];

/** LoRA parameters of an adapter of `rank` (default 32) on every 2-D `.weight` matrix the cookbook adapts. */
export function loraParamCount(shapes: WeightShapes, opts: LoraParamCountOptions = {}): LoraParamCount {
  const rank = opts.rank ?? 32;
  const shared = opts.sharedExpertOuterLoras ?? true;
  const ignore = opts.includeExperts === false ? [...NOT_ADAPTED, 'experts'] : NOT_ADAPTED;
  let dimSum = 0;
  let expertDimSum = 0;
  for (const [name, shape] of Object.entries(shapes)) {
    const parts = name.split('.');
    if (shape.length !== 2 || !name.endsWith('.weight') || parts.some((p) => ignore.includes(p))) continue;
    const [rows, cols] = shape as [number, number];
    const e = parts.indexOf('experts');
    if (e < 0 || !shared) {
      dimSum += rows + cols;
      continue;
    }
    const expert = Number(parts[e + 1]);
    const kind = parts[e + 2];
    if (kind !== 'gate_proj' && kind !== 'up_proj' && kind !== 'down_proj') {
      throw new ValidationError(`unexpected expert weight ${name}`, { field: 'shapes' });
    }
    // down_proj is [hidden, intermediate]; gate/up are [intermediate, hidden].
    expertDimSum += kind === 'down_proj' ? cols : rows;
    if (expert === 0) expertDimSum += kind === 'down_proj' ? rows : cols;
  }
  const nonExpertParams = rank * dimSum;
  const expertParams = rank * expertDimSum;
  return { expertParams, nonExpertParams, totalParams: expertParams + nonExpertParams };
}

/** A dense decoder's shape, as in a Hugging Face config.json (Llama, Qwen2/3). */
export interface DenseTransformerConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  vocab_size: number;
  tie_word_embeddings?: boolean;
}

/** The weight shapes of a dense decoder, named as its safetensors name them. */
export function transformerWeightShapes(c: DenseTransformerConfig): WeightShapes {
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  const kv = (c.num_key_value_heads ?? c.num_attention_heads) * headDim;
  const q = c.num_attention_heads * headDim;
  const shapes: Record<string, number[]> = { 'model.embed_tokens.weight': [c.vocab_size, c.hidden_size] };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    shapes[`${p}.self_attn.q_proj.weight`] = [q, c.hidden_size];
    shapes[`${p}.self_attn.k_proj.weight`] = [kv, c.hidden_size];
    shapes[`${p}.self_attn.v_proj.weight`] = [kv, c.hidden_size];
    shapes[`${p}.self_attn.o_proj.weight`] = [c.hidden_size, q];
    shapes[`${p}.mlp.gate_proj.weight`] = [c.intermediate_size, c.hidden_size];
    shapes[`${p}.mlp.up_proj.weight`] = [c.intermediate_size, c.hidden_size];
    shapes[`${p}.mlp.down_proj.weight`] = [c.hidden_size, c.intermediate_size];
    shapes[`${p}.input_layernorm.weight`] = [c.hidden_size];
  }
  if (!c.tie_word_embeddings) shapes['lm_head.weight'] = [c.vocab_size, c.hidden_size];
  return shapes;
}
