// Deterministic shuffling, so a run and its resumption see the same data order.

/** A seeded permutation of `items` (Fisher–Yates with a small LCG). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = (seed * 2654435761 + 1) >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The items of batch `step`: epoch e = step / batchesPerEpoch sees its own seeded order. */
export function batchAt<T>(items: readonly T[], batchSize: number, step: number, seed = 0): T[] {
  const batchesPerEpoch = Math.floor(items.length / batchSize);
  if (batchesPerEpoch === 0) throw new RangeError(`need at least ${batchSize} items for one batch, got ${items.length}`);
  const epoch = Math.floor(step / batchesPerEpoch);
  const start = (step % batchesPerEpoch) * batchSize;
  return shuffled(items, seed * 7919 + epoch).slice(start, start + batchSize);
}
