/**
 * Buffers that the steps of one decode loop reuse. A 16-sample step of the 8.4M-parameter model
 * would otherwise allocate about 1 MB of fresh Float32Arrays per token, and the first writes to
 * fresh memory fault it in page by page: the 512 KB of logits alone added 0.1–0.5 ms to a step
 * (measured), as much as the head's GEMM itself. Arrays come back holding whatever the previous
 * step left in them; every user overwrites them in full.
 */
export class DecodeWorkspace {
  private readonly arrays = new Map<string, Float32Array>();

  /** n floats for `role`: the same storage on every call while n does not grow (a Float32Source). */
  readonly f32: Float32Source = (role, n) => {
    let a = this.arrays.get(role);
    if (a === undefined || a.length < n) {
      a = new Float32Array(n);
      this.arrays.set(role, a);
    }
    return a.length === n ? a : a.subarray(0, n);
  };
}

/** Where a pass takes its Float32Arrays from; `role` names the buffer (one live array per role). */
export type Float32Source = (role: string, n: number) => Float32Array;

/** Fresh zero-filled arrays (training passes and one-off calls). */
export const freshArrays: Float32Source = (_role, n) => new Float32Array(n);
