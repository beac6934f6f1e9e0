// Custom losses on logprobs, computed on the client. The user's function gets each datum's
// logprobs; it returns the loss and, optionally, dLoss/dlogprobs. Without gradients, it can
// write the loss with `Var` (a small reverse-mode autodiff scalar) over `track(logprobs[i])`,
// and the SDK differentiates it. The gradient g then trains the model through
// cross_entropy with weights = -g (see TrainingClient.forwardBackwardCustom).
import { ValidationError } from './errors.js';
import type { Datum } from './datum.js';

/** A differentiable scalar. Build losses with its methods; `backward()` fills `grad` of every input. */
export class Var {
  readonly value: number;
  /** dLoss/dthis after `backward()` on the loss. */
  grad = 0;
  /** @internal Inputs, and the local derivative with respect to each (same order). */
  readonly parents: readonly Var[];
  /** @internal */
  readonly locals: readonly number[];
  /** @internal Marks nodes already ordered during one backward(). */
  private visit = 0;

  constructor(value: number, parents: readonly Var[] = [], locals: readonly number[] = []) {
    this.value = value;
    this.parents = parents;
    this.locals = locals;
  }

  add(o: Var | number): Var {
    const b = lift(o);
    return new Var(this.value + b.value, [this, b], [1, 1]);
  }

  sub(o: Var | number): Var {
    const b = lift(o);
    return new Var(this.value - b.value, [this, b], [1, -1]);
  }

  mul(o: Var | number): Var {
    const b = lift(o);
    return new Var(this.value * b.value, [this, b], [b.value, this.value]);
  }

  div(o: Var | number): Var {
    const b = lift(o);
    return new Var(this.value / b.value, [this, b], [1 / b.value, -this.value / (b.value * b.value)]);
  }

  neg(): Var {
    return new Var(-this.value, [this], [-1]);
  }

  exp(): Var {
    const e = Math.exp(this.value);
    return new Var(e, [this], [e]);
  }

  log(): Var {
    return new Var(Math.log(this.value), [this], [1 / this.value]);
  }

  square(): Var {
    return new Var(this.value * this.value, [this], [2 * this.value]);
  }

  pow(p: number): Var {
    return new Var(this.value ** p, [this], [p * this.value ** (p - 1)]);
  }

  sigmoid(): Var {
    const s = sigmoid(this.value);
    return new Var(s, [this], [s * (1 - s)]);
  }

  /** log(sigmoid(x)), stable for large |x|. */
  logSigmoid(): Var {
    const x = this.value;
    const v = x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
    return new Var(v, [this], [1 - sigmoid(x)]);
  }

  /** log(1 + exp(x)), stable. */
  softplus(): Var {
    const x = this.value;
    const v = x >= 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
    return new Var(v, [this], [sigmoid(x)]);
  }

  /** Gradients stop here: the value passes, its derivative is zero. */
  detach(): Var {
    return new Var(this.value);
  }

  /** Sets `grad` of this and of every Var it was computed from (dthis/dx). */
  backward(): void {
    const order = topologicalOrder(this);
    for (const v of order) v.grad = 0;
    this.grad = 1;
    for (let i = order.length - 1; i >= 0; i--) {
      const v = order[i]!;
      if (v.grad === 0) continue;
      const { parents, locals } = v;
      for (let k = 0; k < parents.length; k++) parents[k]!.grad += v.grad * locals[k]!;
    }
  }

  /** @internal Visit mark for one traversal; true the first time a traversal reaches this node. */
  markVisited(epoch: number): boolean {
    if (this.visit === epoch) return false;
    this.visit = epoch;
    return true;
  }

  static constant(x: number): Var {
    return new Var(x);
  }

  /** Σ xs, as one node (cheap for long sums). */
  static sum(xs: readonly (Var | number)[]): Var {
    const vs = xs.map(lift);
    let total = 0;
    for (const v of vs) total += v.value;
    return new Var(total, vs, new Array<number>(vs.length).fill(1));
  }

  static mean(xs: readonly (Var | number)[]): Var {
    if (xs.length === 0) throw new ValidationError('Var.mean of an empty list');
    return Var.sum(xs).div(xs.length);
  }

  /** Σ ws[i]·xs[i] with constant weights, as one node. */
  static dot(xs: readonly Var[], ws: ArrayLike<number>): Var {
    if (xs.length !== ws.length) throw new ValidationError(`Var.dot: ${xs.length} values for ${ws.length} weights`);
    let s = 0;
    const locals = new Array<number>(xs.length);
    for (let i = 0; i < xs.length; i++) {
      s += xs[i]!.value * ws[i]!;
      locals[i] = ws[i]!;
    }
    return new Var(s, xs.slice(), locals);
  }
}

function lift(x: Var | number): Var {
  return x instanceof Var ? x : new Var(x);
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

let traversals = 0;

/** Every node reachable from `root`, inputs before the nodes computed from them (iterative: deep graphs are fine). */
function topologicalOrder(root: Var): Var[] {
  const epoch = ++traversals;
  const order: Var[] = [];
  const nodes: Var[] = [root];
  const next: number[] = [0];
  root.markVisited(epoch);
  while (nodes.length) {
    const top = nodes.length - 1;
    const v = nodes[top]!;
    const i = next[top]!;
    if (i < v.parents.length) {
      next[top] = i + 1;
      const p = v.parents[i]!;
      if (p.markVisited(epoch)) {
        nodes.push(p);
        next.push(0);
      }
    } else {
      nodes.pop();
      next.pop();
      order.push(v);
    }
  }
  return order;
}

// ---------------------------------------------------------------- tracking logprobs

const tracked = new WeakMap<Float32Array, Var[]>();

/** The differentiable view of a logprobs array given to a custom loss (same Vars on every call). */
export function track(logprobs: Float32Array): Var[] {
  let vars = tracked.get(logprobs);
  if (!vars) {
    vars = Array.from(logprobs, (x) => new Var(x));
    tracked.set(logprobs, vars);
  }
  return vars;
}

// ---------------------------------------------------------------- the user's function

export interface CustomLossOutput {
  /** The loss: a number when `grads` are given, else a Var computed from `track(logprobs[i])`. */
  loss: number | Var;
  /** Merged into the result's metrics. */
  metrics?: Record<string, number>;
  /** dLoss/dlogprobs per datum, same lengths as the logprobs. */
  grads?: ArrayLike<number>[];
}

/** A loss over each datum's target-token logprobs (as the learner computes them). */
export type CustomLossFn = (data: Datum[], logprobs: Float32Array[]) => CustomLossOutput;

export interface LossAndGradients {
  loss: number;
  metrics: Record<string, number>;
  grads: Float32Array[];
}

/** Runs the user's loss and returns its value and dLoss/dlogprobs for every datum. */
export function evaluateCustomLoss(fn: CustomLossFn, data: Datum[], logprobs: Float32Array[]): LossAndGradients {
  const out = fn(data, logprobs);
  if (!out || typeof out !== 'object' || out.loss === undefined) {
    throw new ValidationError('custom loss: the function must return { loss, metrics?, grads? }', { field: 'loss' });
  }
  const metrics = { ...(out.metrics ?? {}) };
  if (out.grads) {
    if (out.grads.length !== logprobs.length) {
      throw new ValidationError(`custom loss: ${out.grads.length} gradient arrays for ${logprobs.length} datums`, { field: 'grads' });
    }
    const grads = out.grads.map((g, i) => {
      if (g.length !== logprobs[i]!.length) {
        throw new ValidationError(`custom loss: grads[${i}] has ${g.length} entries, logprobs[${i}] has ${logprobs[i]!.length}`, { field: `grads[${i}]` });
      }
      return Float32Array.from(g);
    });
    return { loss: out.loss instanceof Var ? out.loss.value : out.loss, metrics, grads };
  }
  if (!(out.loss instanceof Var)) {
    throw new ValidationError(
      'custom loss: return `grads`, or compute `loss` as a Var from track(logprobs[i]) so it can be differentiated',
      { field: 'loss' },
    );
  }
  out.loss.backward();
  const grads = logprobs.map((lp) => {
    const vars = tracked.get(lp);
    return vars ? Float32Array.from(vars, (v) => v.grad) : new Float32Array(lp.length);
  });
  return { loss: out.loss.value, metrics, grads };
}

/** Wraps a loss written on Vars: `differentiable((data, lp) => ({ loss: ... }))`. */
export function differentiable(
  fn: (data: Datum[], logprobs: Var[][]) => { loss: Var; metrics?: Record<string, number> },
): CustomLossFn {
  return (data, logprobs) => fn(data, logprobs.map(track));
}

// ---------------------------------------------------------------- common terms

/** Σ of a sequence's logprobs with optional per-token weights (e.g. a completion mask). */
export function sequenceLogprob(logprobs: readonly Var[], weights?: ArrayLike<number>): Var {
  return weights ? Var.dot(logprobs, weights) : Var.sum(logprobs);
}

export interface DpoPair {
  /** Policy logprob of the chosen and rejected completions (sums over their tokens). */
  chosen: Var;
  rejected: Var;
  /** Reference-model logprobs of the same completions (constants). */
  refChosen: number;
  refRejected: number;
}

/**
 * DPO: mean over pairs of -log σ(β·((chosen − refChosen) − (rejected − refRejected))).
 * Also returns the mean implicit reward margin and accuracy for metrics.
 */
export function dpoLoss(pairs: readonly DpoPair[], beta: number): { loss: Var; metrics: Record<string, number> } {
  if (pairs.length === 0) throw new ValidationError('dpoLoss: no pairs', { field: 'pairs' });
  let margins = 0;
  let correct = 0;
  const terms = pairs.map((p) => {
    const margin = p.chosen.sub(p.refChosen).sub(p.rejected.sub(p.refRejected)).mul(beta);
    margins += margin.value;
    if (margin.value > 0) correct++;
    return margin.logSigmoid().neg();
  });
  return {
    loss: Var.mean(terms),
    metrics: { 'dpo_margin:mean': margins / pairs.length, 'dpo_accuracy:mean': correct / pairs.length },
  };
}

/**
 * KL(sampler ‖ policy) estimate on sampled tokens, k3 estimator: mean of exp(r) − 1 − r with
 * r = refLogprob − logprob; differentiable in the policy logprobs.
 */
export function klPenalty(logprobs: readonly Var[], refLogprobs: ArrayLike<number>): Var {
  if (logprobs.length !== refLogprobs.length) {
    throw new ValidationError(`klPenalty: ${logprobs.length} logprobs for ${refLogprobs.length} reference logprobs`);
  }
  if (logprobs.length === 0) return Var.constant(0);
  return Var.mean(logprobs.map((lp, i) => {
    const r = lp.neg().add(refLogprobs[i]!);
    return r.exp().sub(1).sub(r);
  }));
}
