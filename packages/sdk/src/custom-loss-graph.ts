// Server-side custom losses: write the loss in TypeScript over symbolic values (`Sym`, with the
// ops of custom-loss.ts's `Var`), and `traceCustomLoss` records each op as a torch.fx-style node.
// The resulting CustomLossGraph is plain data; the server rebuilds it from its own allow-list and
// evaluates it in the forward_backward pass itself, so the loss costs one round trip, not two.
import type * as wire from '@tinker-ts/protocol';
import { ValidationError } from './errors.js';

/** A symbolic value or a constant. */
export type SymOperand = Sym | number;

/** Records nodes for one trace. */
class Recorder {
  readonly nodes: wire.CustomLossNode[] = [];
  private readonly used = new Set<string>();
  private readonly counts = new Map<string, number>();

  freshName(base: string): string {
    let n = this.counts.get(base) ?? 0;
    let name = n === 0 ? base : `${base}_${n}`;
    while (this.used.has(name)) name = `${base}_${++n}`;
    this.counts.set(base, n + 1);
    this.used.add(name);
    return name;
  }

  placeholder(name: string): string {
    this.used.add(name);
    this.nodes.push({ op: 'placeholder', name, target: name, args: [], kwargs: {} });
    return name;
  }

  call(op: 'call_function' | 'call_method', target: string, args: unknown[], kwargs: Record<string, unknown> = {}): Sym {
    const name = this.freshName(target.slice(target.lastIndexOf('.') + 1));
    this.nodes.push({ op, name, target, args: args.map((a) => this.encode(a)), kwargs: Object.fromEntries(Object.entries(kwargs).map(([k, v]) => [k, this.encode(v)])) });
    return new Sym(this, name);
  }

  /** The wire encoding of an argument (CustomLossNode.args). */
  encode(a: unknown): unknown {
    if (a instanceof Sym || a instanceof SymBatch) {
      if (a.recorder !== this) throw new ValidationError('custom loss: a value from another trace was used');
      return { ref: a.name };
    }
    if (typeof a === 'number') {
      if (Number.isNaN(a)) return { float: 'nan' };
      if (a === Infinity) return { float: 'inf' };
      if (a === -Infinity) return { float: '-inf' };
      return a;
    }
    if (a === null || typeof a === 'boolean') return a;
    if (Array.isArray(a)) return a.map((x) => this.encode(x));
    if (a instanceof SliceArg) return { slice: [a.start, a.stop, null] };
    throw new ValidationError(`custom loss: cannot use ${typeof a} as an operand`);
  }
}

class SliceArg {
  constructor(readonly start: number | null, readonly stop: number | null) {}
}

/** A traced tensor (rank 0 or 1). Methods mirror `Var`; each records one graph node. */
export class Sym {
  /** @internal */
  readonly recorder: Recorder;
  /** The node's name in the graph. */
  readonly name: string;

  /** @internal Made by traceCustomLoss and by ops. */
  constructor(recorder: Recorder, name: string) {
    this.recorder = recorder;
    this.name = name;
  }

  private fn(target: string, ...args: unknown[]): Sym {
    return this.recorder.call('call_function', target, [this, ...args]);
  }

  add(o: SymOperand): Sym { return this.fn('operator.add', o); }
  sub(o: SymOperand): Sym { return this.fn('operator.sub', o); }
  mul(o: SymOperand): Sym { return this.fn('operator.mul', o); }
  div(o: SymOperand): Sym { return this.fn('operator.truediv', o); }
  pow(p: SymOperand): Sym { return this.fn('operator.pow', p); }
  neg(): Sym { return this.fn('operator.neg'); }
  exp(): Sym { return this.fn('torch.exp'); }
  log(): Sym { return this.fn('torch.log'); }
  square(): Sym { return this.fn('torch.square'); }
  sigmoid(): Sym { return this.fn('torch.sigmoid'); }
  /** log(sigmoid(x)), stable for large |x|. */
  logSigmoid(): Sym { return this.fn('torch.nn.functional.logsigmoid'); }
  /** log(1 + exp(x)), stable. */
  softplus(): Sym { return this.fn('torch.nn.functional.softplus'); }
  /** Gradients stop here. */
  detach(): Sym { return this.recorder.call('call_method', 'detach', [this]); }
  maximum(o: SymOperand): Sym { return this.fn('torch.maximum', o); }
  minimum(o: SymOperand): Sym { return this.fn('torch.minimum', o); }
  /** 1 where this > o, else 0 (no gradient); for `Sym.where`. */
  gt(o: SymOperand): Sym { return this.fn('operator.gt', o); }
  lt(o: SymOperand): Sym { return this.fn('operator.lt', o); }
  ge(o: SymOperand): Sym { return this.fn('operator.ge', o); }
  le(o: SymOperand): Sym { return this.fn('operator.le', o); }
  /** Σ of all values (a scalar). */
  sum(): Sym { return this.fn('torch.sum'); }
  mean(): Sym { return this.fn('torch.mean'); }
  /** Limits values to [min, max]; a bound may be null. */
  clamp(min: number | null, max: number | null = null): Sym {
    return this.recorder.call('call_function', 'torch.clamp', [this], { min, max });
  }
  /** The values at `index`: positions as a rank-1 Sym (e.g. a loss_fn_inputs key) or constants. */
  gather(index: Sym | readonly number[]): Sym {
    const at = index instanceof Sym ? index : this.recorder.call('call_function', 'torch.stack', [[...index]]);
    return this.fn('torch.gather', 0, at);
  }
  /** Σ this·o over two rank-1 tensors of one length. */
  dot(o: Sym): Sym { return this.fn('torch.dot', o); }
  /** One element of a rank-1 tensor (negative counts from the end). */
  at(i: number): Sym {
    checkIndex(i);
    return this.fn('operator.getitem', i);
  }
  /** Elements start .. stop-1 of a rank-1 tensor (either may be null). */
  slice(start: number | null, stop: number | null = null): Sym {
    if (start !== null) checkIndex(start);
    if (stop !== null) checkIndex(stop);
    return this.fn('operator.getitem', new SliceArg(start, stop));
  }

  /** a where cond ≠ 0, else b. */
  static where(cond: Sym, a: SymOperand, b: SymOperand): Sym {
    return cond.recorder.call('call_function', 'torch.where', [cond, a, b]);
  }
  /** Scalars → a rank-1 tensor. */
  static stack(xs: readonly SymOperand[]): Sym {
    return recorderOf(xs, 'Sym.stack').call('call_function', 'torch.stack', [[...xs]]);
  }
  /** Rank-1 tensors (or every datum of an input) → one rank-1 tensor. */
  static cat(xs: readonly Sym[] | SymBatch): Sym {
    if (xs instanceof SymBatch) return xs.recorder.call('call_function', 'torch.cat', [xs]);
    return recorderOf(xs, 'Sym.cat').call('call_function', 'torch.cat', [[...xs]]);
  }
  /** Σ xs (as Var.sum). */
  static sum(xs: readonly SymOperand[]): Sym {
    return Sym.stack(xs).sum();
  }
  /** Mean of xs (as Var.mean). */
  static mean(xs: readonly SymOperand[]): Sym {
    if (xs.length === 0) throw new ValidationError('Sym.mean of an empty list');
    return Sym.stack(xs).mean();
  }
  /** Σ ws[i]·xs[i] with constant weights (as Var.dot). */
  static dot(xs: readonly Sym[], ws: ArrayLike<number>): Sym {
    if (xs.length !== ws.length) throw new ValidationError(`Sym.dot: ${xs.length} values for ${ws.length} weights`);
    const rec = recorderOf(xs, 'Sym.dot');
    return Sym.stack(xs).dot(rec.call('call_function', 'torch.stack', [Array.from(ws)]));
  }
}

/** An input of the loss: one value per datum of the batch (`batch.logprobs.at(i)`). */
export class SymBatch {
  /** @internal */
  readonly recorder: Recorder;
  readonly name: string;
  /** The number of datums the loss is traced for. */
  readonly length: number;

  /** @internal */
  constructor(recorder: Recorder, name: string, length: number) {
    this.recorder = recorder;
    this.name = name;
    this.length = length;
  }

  /** Datum i's value. */
  at(i: number): Sym {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new ValidationError(`custom loss: datum ${i} is outside the ${this.length} datums the loss is traced for`);
    }
    return this.recorder.call('call_function', 'operator.getitem', [this, i]);
  }
}

function checkIndex(i: number): void {
  if (!Number.isInteger(i)) throw new ValidationError(`custom loss: index ${i} is not an integer`);
}

function recorderOf(xs: readonly SymOperand[], what: string): Recorder {
  const s = xs.find((x): x is Sym => x instanceof Sym);
  if (!s) throw new ValidationError(`${what} needs at least one traced value`);
  return s.recorder;
}

/** What a loss function returns: the loss (summed if not a scalar), and optional scalar metrics. */
export type TracedLoss = Sym | { loss: Sym; metrics?: Record<string, Sym> };

export interface CustomLossSpec {
  /** A name for the loss (shown by the server). */
  name: string;
  /** How many datums a batch has: the loss indexes them (`logprobs.at(i)`). */
  datums: number;
  /** loss_fn_inputs keys the loss reads, with their rank: 1 = one value per token, 0 = one per datum. */
  inputs?: Record<string, 0 | 1>;
}

/** A traced loss, ready for `TrainingClient.createCustomLoss`. */
export interface CustomLossDefinition {
  name: string;
  datums: number;
  inputs: wire.CustomLossInput[];
  graph: wire.CustomLossGraph;
}

/**
 * Traces `fn` once over symbolic inputs: `logprobs` (each datum's target-token logprobs) and
 * every key of `spec.inputs`, and returns the graph it recorded.
 */
export function traceCustomLoss(
  spec: CustomLossSpec,
  fn: (batch: { logprobs: SymBatch } & Record<string, SymBatch>) => TracedLoss,
): CustomLossDefinition {
  if (!spec || typeof spec.name !== 'string' || spec.name.length === 0) throw new ValidationError('traceCustomLoss: a name is required', { field: 'name' });
  if (!Number.isInteger(spec.datums) || spec.datums < 1) {
    throw new ValidationError(`traceCustomLoss: datums must be a positive integer, got ${JSON.stringify(spec.datums)}`, { field: 'datums' });
  }
  const inputs: wire.CustomLossInput[] = [{ name: 'logprobs', rank: 1 }];
  for (const [name, rank] of Object.entries(spec.inputs ?? {})) {
    if (rank !== 0 && rank !== 1) throw new ValidationError(`traceCustomLoss: input ${name} needs rank 0 or 1, got ${JSON.stringify(rank)}`, { field: `inputs.${name}` });
    inputs.push({ name, rank });
  }
  const rec = new Recorder();
  const batch: Record<string, SymBatch> = {};
  for (const input of inputs) batch[input.name] = new SymBatch(rec, rec.placeholder(input.name), spec.datums);
  const out = fn(batch as { logprobs: SymBatch } & Record<string, SymBatch>);
  const { loss, metrics } = out instanceof Sym ? { loss: out, metrics: undefined } : out ?? ({} as { loss: undefined; metrics: undefined });
  if (!(loss instanceof Sym)) throw new ValidationError('traceCustomLoss: the function must return a Sym, or { loss: Sym, metrics? }', { field: 'loss' });
  const metricArgs = Object.entries(metrics ?? {}).map(([k, v]) => {
    if (!(v instanceof Sym)) throw new ValidationError(`traceCustomLoss: metric ${k} must be a Sym`, { field: `metrics.${k}` });
    return [k, rec.encode(v)] as const;
  });
  const result = metricArgs.length ? { tuple: [rec.encode(loss), { dict: Object.fromEntries(metricArgs) }] } : rec.encode(loss);
  rec.nodes.push({ op: 'output', name: rec.freshName('output'), target: 'output', args: [result], kwargs: {} });
  return { name: spec.name, datums: spec.datums, inputs, graph: { format: 1, nodes: rec.nodes } };
}
