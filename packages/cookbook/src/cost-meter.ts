// Token and cost accounting per step and for the whole run, as the cookbook's metrics report it:
// tokens trained, prompt tokens read (sampling and forward-only passes), tokens sampled, and
// their price.
import { ZERO_PRICES, type TokenPrices } from './prices.js';

export interface StepTokens {
  train?: number;
  prefill?: number;
  cachedPrefill?: number;
  sample?: number;
}

export class CostMeter {
  private totals = { train: 0, prefill: 0, cachedPrefill: 0, sample: 0, cost: 0 };

  constructor(readonly prices: TokenPrices = ZERO_PRICES, initial?: Partial<Record<string, number>>) {
    // A resumed run continues its cumulative counts from the last logged step.
    if (initial) {
      this.totals.train = initial['tokens/train_total'] ?? 0;
      this.totals.prefill = initial['tokens/prefill_total'] ?? 0;
      this.totals.sample = initial['tokens/sample_total'] ?? 0;
      this.totals.cost = initial['cost/total_usd'] ?? 0;
    }
  }

  /** Adds a step's tokens; returns the step's and cumulative metrics under `tokens/` and `cost/`. */
  record(step: StepTokens): Record<string, number> {
    const train = step.train ?? 0;
    const prefill = step.prefill ?? 0;
    const cached = step.cachedPrefill ?? 0;
    const sample = step.sample ?? 0;
    const cost = (train * this.prices.train + prefill * this.prices.prefill + cached * this.prices.cachedPrefill + sample * this.prices.sample) / 1e6;
    this.totals.train += train;
    this.totals.prefill += prefill + cached;
    this.totals.sample += sample;
    this.totals.cost += cost;
    return {
      'tokens/train': train,
      'tokens/prefill': prefill + cached,
      'tokens/sample': sample,
      'tokens/train_total': this.totals.train,
      'tokens/prefill_total': this.totals.prefill,
      'tokens/sample_total': this.totals.sample,
      'cost/step_usd': cost,
      'cost/total_usd': this.totals.cost,
    };
  }
}
