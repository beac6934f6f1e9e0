/**
 * Alternatives to prompt tokens (`prompt_alt_tokens_k`): at every prompt position after the
 * first, k independent draws with replacement from the model's next-token distribution at the
 * request's temperature, each reported with its untempered logprob (the number a forward pass
 * gives for that token there). Only temperature shapes the draws: the newer official SDK
 * describes them as taken "at the request's temperature", and says nothing of top-k or top-p.
 * Temperature 0 draws the argmax k times.
 */
import type { Prng } from './prng.js';

export class AltTokenDrawer {
  /** Cumulative tempered weights of one row. */
  private readonly cum: Float64Array;

  constructor(private readonly vocab: number, private readonly temperature: number, readonly k: number) {
    this.cum = new Float64Array(vocab);
  }

  /** Draws k tokens from `logprobs` (one normalised row) into tokens/logprobs at `offset`. */
  draw(logprobs: Float32Array, rng: Prng, tokens: number[], out: number[], offset: number): void {
    const V = this.vocab;
    let max = 0;
    for (let i = 1; i < V; i++) if (logprobs[i]! > logprobs[max]!) max = i;
    if (this.temperature === 0) {
      for (let j = 0; j < this.k; j++) {
        tokens[offset + j] = max;
        out[offset + j] = logprobs[max]!;
      }
      return;
    }
    const invT = 1 / this.temperature;
    const top = logprobs[max]!;
    let total = 0;
    for (let i = 0; i < V; i++) this.cum[i] = total += Math.exp((logprobs[i]! - top) * invT);
    for (let j = 0; j < this.k; j++) {
      const u = rng.uniform() * total;
      // First token whose cumulative weight passes u: it has positive weight.
      let lo = 0;
      let hi = V - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.cum[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      tokens[offset + j] = lo;
      out[offset + j] = logprobs[lo]!;
    }
  }
}
