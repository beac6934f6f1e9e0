/**
 * Model ids as hosted Tinker writes them. The context length is part of the id: `X:peft:<ctx>`
 * is a variant of base model X with that context length (hosted prices it as a separate model),
 * and serverless-inference ids add `:sampling-nvfp4`, e.g.
 * `thinkingmachines/Inkling-Small:peft:262144:sampling-nvfp4`. Every route that takes a base
 * model name reads it through `parseModelId`, so a malformed suffix gets the same 400 everywhere.
 */
import { ValidationError } from './errors.js';

export interface ModelId {
  /** The id as written. */
  id: string;
  /** The base model, without suffixes (`openai/gpt-oss-120b`). */
  base: string;
  /** Context length of a `:peft:<ctx>` variant; null for the base model itself. */
  peftContext: number | null;
  /** `:sampling-nvfp4`: served for sampling only (hosted serves it quantised to NVFP4). */
  samplingOnly: boolean;
}

export const PEFT_SUFFIX = ':peft:';
export const SAMPLING_NVFP4_SUFFIX = ':sampling-nvfp4';

/** Longest context a `:peft:` suffix may name (16M tokens; hosted variants go to 262144). */
export const MAX_PEFT_CONTEXT = 1 << 24;

/** Splits a model id into its base and suffixes; a ValidationError (400) names what is wrong. */
export function parseModelId(id: string, field = 'base_model'): ModelId {
  if (typeof id !== 'string' || id.trim() === '') throw new ValidationError('a model id must be a non-empty string', field);
  let rest = id;
  let samplingOnly = false;
  if (rest.endsWith(SAMPLING_NVFP4_SUFFIX)) {
    samplingOnly = true;
    rest = rest.slice(0, -SAMPLING_NVFP4_SUFFIX.length);
  }
  let peftContext: number | null = null;
  const peftAt = rest.indexOf(PEFT_SUFFIX);
  if (peftAt >= 0) {
    const ctxText = rest.slice(peftAt + PEFT_SUFFIX.length);
    if (!/^[1-9]\d*$/.test(ctxText)) {
      throw new ValidationError(
        `${JSON.stringify(id)}: the context length after ":peft:" must be a positive integer of tokens` +
          ` (as in "openai/gpt-oss-120b:peft:131072"${samplingOnly ? ', then ":sampling-nvfp4"' : ''}), got ${JSON.stringify(ctxText)}`,
        field,
      );
    }
    peftContext = Number(ctxText);
    if (peftContext > MAX_PEFT_CONTEXT) {
      throw new ValidationError(`${JSON.stringify(id)}: a context length of ${peftContext} tokens is beyond any model (at most ${MAX_PEFT_CONTEXT})`, field);
    }
    rest = rest.slice(0, peftAt);
  } else if (/:peft(:|$)/.test(rest)) {
    throw new ValidationError(`${JSON.stringify(id)}: ":peft" must be followed by ":<context length>", as in "X:peft:131072"`, field);
  }
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    throw new ValidationError(
      `${JSON.stringify(id)}: unknown model id suffix ${JSON.stringify(rest.slice(colon))}; ids are <base>[:peft:<context>][:sampling-nvfp4]`,
      field,
    );
  }
  if (rest === '') throw new ValidationError(`${JSON.stringify(id)}: the base model name before the suffix is missing`, field);
  return { id, base: rest, peftContext, samplingOnly };
}

/** Writes an id back from its parts (the inverse of parseModelId). */
export function formatModelId(m: Omit<ModelId, 'id'>): string {
  return `${m.base}${m.peftContext !== null ? `${PEFT_SUFFIX}${m.peftContext}` : ''}${m.samplingOnly ? SAMPLING_NVFP4_SUFFIX : ''}`;
}

/** A model name hosted Tinker no longer serves, and what to use instead. */
export interface RetiredModel {
  /** The retired base model name (a prefix match when it ends with '/'). */
  name: string;
  retired: string;
  replacement: string;
}

/**
 * Names hosted Tinker retired on 2026-06-12 ("all meta-llama models, Qwen3-235B/32B/30B-A3B/VL/4B
 * variants (Qwen3-8B remains), Qwen3.5-35B-A3B, Qwen3.5-27B, DeepSeek-V3.1-Base,
 * Kimi-K2-Thinking") and Kimi-K2.5 (2026-07-12). Servers may still accept them; clients warn.
 */
export const RETIRED_MODELS: readonly RetiredModel[] = [
  { name: 'meta-llama/', retired: '2026-06-12', replacement: 'Qwen/Qwen3-8B' },
  { name: 'Qwen/Qwen3-235B-A22B-Instruct-2507', retired: '2026-06-12', replacement: 'Qwen/Qwen3.5-397B-A17B' },
  { name: 'Qwen/Qwen3-32B', retired: '2026-06-12', replacement: 'Qwen/Qwen3.6-27B' },
  { name: 'Qwen/Qwen3-30B-A3B', retired: '2026-06-12', replacement: 'Qwen/Qwen3.6-35B-A3B' },
  { name: 'Qwen/Qwen3-30B-A3B-Base', retired: '2026-06-12', replacement: 'Qwen/Qwen3.5-35B-A3B-Base' },
  { name: 'Qwen/Qwen3-30B-A3B-Instruct-2507', retired: '2026-06-12', replacement: 'Qwen/Qwen3.6-35B-A3B' },
  { name: 'Qwen/Qwen3-VL-235B-A22B-Instruct', retired: '2026-06-12', replacement: 'Qwen/Qwen3.5-397B-A17B' },
  { name: 'Qwen/Qwen3-VL-30B-A3B-Instruct', retired: '2026-06-12', replacement: 'Qwen/Qwen3.6-35B-A3B' },
  { name: 'Qwen/Qwen3-4B-Instruct-2507', retired: '2026-06-12', replacement: 'Qwen/Qwen3.5-4B' },
  { name: 'Qwen/Qwen3.5-35B-A3B', retired: '2026-06-12', replacement: 'Qwen/Qwen3.6-35B-A3B' },
  { name: 'Qwen/Qwen3.5-27B', retired: '2026-06-12', replacement: 'Qwen/Qwen3.6-27B' },
  { name: 'deepseek-ai/DeepSeek-V3.1-Base', retired: '2026-06-12', replacement: 'deepseek-ai/DeepSeek-V3.1' },
  { name: 'moonshotai/Kimi-K2-Thinking', retired: '2026-06-12', replacement: 'moonshotai/Kimi-K2.6' },
  { name: 'moonshotai/Kimi-K2.5', retired: '2026-07-12', replacement: 'moonshotai/Kimi-K2.6' },
];

/** The retirement of a model id's base model, or null when hosted still serves it. */
export function retirementOf(id: string): RetiredModel | null {
  const base = id.split(':')[0]!;
  return RETIRED_MODELS.find((r) => (r.name.endsWith('/') ? base.startsWith(r.name) : base === r.name)) ?? null;
}

/** The deprecation notice for a retired model id, or null. */
export function deprecationNotice(id: string): string | null {
  const r = retirementOf(id);
  if (!r) return null;
  return `${id} was retired by hosted Tinker on ${r.retired}: this server still accepts it, hosted Tinker does not; use ${r.replacement} (or another current model) instead`;
}
