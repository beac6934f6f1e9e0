/**
 * Router load metrics of a pass. The load of an expert in a sparse layer is the share of the
 * batch's tokens routed to it (each token goes to k experts, so loads average k / E);
 * `moe/expert_load:max`, `:min` and `:mean` reduce over every (sparse layer, expert) pair.
 */
export class RouterLoad {
  private max = -Infinity;
  private min = Infinity;
  private sum = 0;
  private count = 0;

  /** counts[e] = tokens routed to expert e in one sparse layer of a pass over `tokens` tokens. */
  record(counts: ArrayLike<number>, tokens: number): void {
    if (tokens === 0) return;
    for (let e = 0; e < counts.length; e++) {
      const load = counts[e] / tokens;
      this.max = Math.max(this.max, load);
      this.min = Math.min(this.min, load);
      this.sum += load;
      this.count++;
    }
  }

  /** Empty when no sparse layer ran. */
  metrics(): Record<string, number> {
    if (this.count === 0) return {};
    return { 'moe/expert_load:max': this.max, 'moe/expert_load:min': this.min, 'moe/expert_load:mean': this.sum / this.count };
  }
}
