/**
 * Stand-in models: tiny decoders with deterministic random weights, registered under hosted
 * model names so that programs written for the hosted service run unchanged on a laptop. Each
 * keeps its family's real vocabulary and tokenizer (so token ids, chat templates and stop
 * tokens behave as with the real model); everything else is small. They are always reported
 * with `stand_in: true` — their outputs mean nothing until trained.
 */
import type { ModelConfig, ModelFamily } from './model-types.js';

export interface StandInSpec {
  name: string;
  family: ModelFamily;
  config: ModelConfig;
  /** Seed of the random weights (derived from the name, so each stand-in differs). */
  seed: number;
  maxContextLength: number;
}

/** Shape shared by every stand-in: d=128, 4 layers, 4 query heads over 2 KV heads, tied embeddings. */
const SHAPE = { hiddenSize: 128, intermediateSize: 384, numLayers: 4, numHeads: 4, numKvHeads: 2, headDim: 32 } as const;

const QWEN3_BASE: Omit<ModelConfig, keyof typeof SHAPE> = {
  family: 'qwen3', vocabSize: 151936, rmsNormEps: 1e-6, ropeTheta: 1_000_000, ropeScaling: null,
  maxPositionEmbeddings: 40960, tieWordEmbeddings: true, bosTokenId: null,
  eosTokenIds: [151645, 151643], // <|im_end|>, <|endoftext|>
};

const LLAMA3_BASE: Omit<ModelConfig, keyof typeof SHAPE> = {
  family: 'llama', vocabSize: 128256, rmsNormEps: 1e-5, ropeTheta: 500_000,
  ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
  maxPositionEmbeddings: 131072, tieWordEmbeddings: true, bosTokenId: 128000,
  eosTokenIds: [128001, 128008, 128009], // <|end_of_text|>, <|eom_id|>, <|eot_id|>
};

function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

function standIn(name: string, family: ModelFamily, maxContextLength: number, overrides: Partial<ModelConfig> = {}): StandInSpec {
  const base = family === 'qwen3' ? QWEN3_BASE : LLAMA3_BASE;
  return { name, family, config: { ...base, ...SHAPE, ...overrides }, seed: seedOf(name), maxContextLength };
}

/** Context length reported for stand-ins (the KV cache grows on demand, so this costs nothing up front). */
const STAND_IN_CONTEXT = 32768;

export const STAND_INS: readonly StandInSpec[] = [
  standIn('tinker-ts/tiny-qwen3', 'qwen3', STAND_IN_CONTEXT),
  standIn('tinker-ts/tiny-llama3', 'llama', STAND_IN_CONTEXT),
  // Qwen3-MoE-shaped: every layer routes each token to 2 of 8 experts.
  standIn('tinker-ts/tiny-qwen3-moe', 'qwen3', STAND_IN_CONTEXT, {
    moe: { numExperts: 8, numExpertsPerTok: 2, moeIntermediateSize: 96, normTopkProb: true, decoderSparseStep: 1, mlpOnlyLayers: [] },
  }),
  standIn('Qwen/Qwen3-8B', 'qwen3', STAND_IN_CONTEXT),
  standIn('Qwen/Qwen3-30B-A3B-Instruct-2507', 'qwen3', STAND_IN_CONTEXT),
  standIn('Qwen/Qwen3-4B-Instruct-2507', 'qwen3', STAND_IN_CONTEXT),
  standIn('meta-llama/Llama-3.2-1B', 'llama', STAND_IN_CONTEXT, { eosTokenIds: [128001] }),
  standIn('meta-llama/Llama-3.1-8B-Instruct', 'llama', STAND_IN_CONTEXT, {
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
  }),
];

/** One-line description used in logs. */
export function describeStandIn(s: StandInSpec): string {
  const c = s.config;
  const experts = c.moe ? `, ${c.moe.numExperts} experts top-${c.moe.numExpertsPerTok}` : '';
  return `${s.name} is a stand-in: a random-weight ${s.family}${c.moe ? ' MoE' : ''} decoder (d=${c.hiddenSize}, ${c.numLayers} layers, ` +
    `${c.numHeads}/${c.numKvHeads} heads${experts}, vocab ${c.vocabSize}) with the real ${s.family === 'qwen3' ? 'Qwen3' : 'Llama 3'} tokenizer`;
}
