// Hosted Tinker's published prices, USD per million tokens, as of December 2026 (the pricing
// page's lineup after the June retirements). A model's context-length suffix (`:peft:262144`)
// names a pricier variant; only the base prices are listed here.

export interface TokenPrices {
  /** Prompt tokens read by sampling and by forward-only passes. */
  prefill: number;
  /** Prompt tokens served from the prefix cache. */
  cachedPrefill: number;
  /** Tokens the sampler writes. */
  sample: number;
  /** Tokens through forward-backward. */
  train: number;
}

export const ZERO_PRICES: Readonly<TokenPrices> = Object.freeze({ prefill: 0, cachedPrefill: 0, sample: 0, train: 0 });

const p = (prefill: number, cachedPrefill: number, sample: number, train: number): TokenPrices => Object.freeze({ prefill, cachedPrefill, sample, train });

export const HOSTED_PRICES: Readonly<Record<string, TokenPrices>> = Object.freeze({
  // The cached-prefill price is not listed for Inkling: 80% off prefill, as for every other model.
  'thinkingmachines/Inkling': p(1.87, 0.374, 4.68, 5.61),
  'nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16': p(2.49, 0.498, 6.225, 5.478),
  'nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16': p(0.57, 0.114, 1.44, 1.276),
  'nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16': p(0.195, 0.039, 0.495, 0.44),
  'moonshotai/Kimi-K2.6': p(2.205, 0.441, 5.49, 4.84),
  'Qwen/Qwen3.6-35B-A3B': p(0.54, 0.108, 1.335, 1.177),
  'Qwen/Qwen3.6-27B': p(1.86, 0.372, 5.595, 4.103),
  'Qwen/Qwen3.5-397B-A17B': p(3.0, 0.6, 7.5, 6.6),
  'Qwen/Qwen3.5-35B-A3B-Base': p(0.54, 0.108, 1.335, 1.177),
  'Qwen/Qwen3.5-9B': p(0.66, 0.132, 1.995, 1.463),
  'Qwen/Qwen3.5-9B-Base': p(0.66, 0.132, 1.995, 1.463),
  'Qwen/Qwen3.5-4B': p(0.33, 0.066, 1.005, 0.737),
  'Qwen/Qwen3-8B': p(0.195, 0.039, 0.6, 0.44),
  'openai/gpt-oss-120b': p(0.33, 0.066, 0.84, 0.737),
  'openai/gpt-oss-20b': p(0.18, 0.036, 0.45, 0.396),
  'deepseek-ai/DeepSeek-V3.1': p(1.695, 0.339, 4.215, 3.718),
});

/** Whether `baseURL` is hosted Tinker (which bills) rather than a local or self-hosted server. */
export function isHostedTinker(baseURL: string | undefined): boolean {
  if (!baseURL) return false;
  try {
    const host = new URL(baseURL).hostname;
    return host === 'thinkingmachines.dev' || host.endsWith('.thinkingmachines.dev');
  } catch {
    return false;
  }
}

/**
 * What `model` costs on the server at `baseURL`: the published prices on hosted Tinker (zero for
 * a model it does not list), zero on any other server.
 */
export function pricesFor(model: string, baseURL: string | undefined): TokenPrices {
  if (!isHostedTinker(baseURL)) return ZERO_PRICES;
  return HOSTED_PRICES[model.split(':')[0]!] ?? ZERO_PRICES;
}
