/**
 * A custom loss as a small program over per-datum arrays: the server rebuilds a client's traced
 * graph into these steps (only from its allow-list), and the engine evaluates them on the
 * target-token logprobs of each datum and takes d loss / d logprobs by reverse mode.
 *
 * Values are tensors of rank 0 or 1 (float64), or lists of them: every input is a list with one
 * value per datum (`logprobs[i]` is datum i's per-token logprobs). A rank-1 loss is sum-reduced,
 * as hosted losses are.
 */
import { EngineUserError } from './errors.js';

export type LossUnaryFn = 'neg' | 'exp' | 'log' | 'sigmoid' | 'logsigmoid' | 'softplus' | 'square' | 'detach';
export type LossBinaryFn = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'gt' | 'lt' | 'ge' | 'le' | 'eq';

export const LOSS_UNARY_FNS: readonly LossUnaryFn[] = ['neg', 'exp', 'log', 'sigmoid', 'logsigmoid', 'softplus', 'square', 'detach'];
export const LOSS_BINARY_FNS: readonly LossBinaryFn[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'gt', 'lt', 'ge', 'le', 'eq'];

/** One step; operands are indices of earlier steps. */
export type LossStep =
  | { op: 'input'; name: string; rank: 0 | 1 }
  | { op: 'const'; value: number }
  | { op: 'list'; items: number[] }
  | { op: 'item'; x: number; index: number }
  | { op: 'slice'; x: number; start: number | null; stop: number | null; step: number | null }
  | { op: 'unary'; fn: LossUnaryFn; x: number }
  | { op: 'binary'; fn: LossBinaryFn; a: number; b: number }
  | { op: 'sum' | 'mean'; x: number }
  | { op: 'clamp'; x: number; min: number | null; max: number | null }
  | { op: 'where'; cond: number; a: number; b: number }
  | { op: 'gather'; x: number; index: number }
  | { op: 'cat' | 'stack'; xs: number }
  | { op: 'dot'; a: number; b: number };

export interface LossProgram {
  steps: LossStep[];
  /** The step holding the loss (rank 0, or rank 1 and summed). */
  loss: number;
  /** Metric name → a rank-0 step. */
  metrics: Record<string, number>;
}

/** Per-datum values of every input: `logprobs` from the model, the rest from loss_fn_inputs. */
export type LossProgramInputs = Record<string, readonly ArrayLike<number>[]>;

export interface LossProgramResult {
  loss: number;
  metrics: Record<string, number>;
  /** d loss / d logprobs per datum (absent when not asked for). */
  dlogprobs: Float32Array[] | null;
}

interface Tensor {
  rank: 0 | 1;
  data: Float64Array;
}
interface TensorList {
  list: Tensor[];
}
type Value = Tensor | TensorList;
type Grad = Float64Array | (Float64Array | null)[];

function isList(v: Value): v is TensorList {
  return (v as TensorList).list !== undefined;
}

function scalar(x: number): Tensor {
  return { rank: 0, data: Float64Array.of(x) };
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

const UNARY: Record<LossUnaryFn, { f: (x: number) => number; df: (x: number, y: number) => number }> = {
  neg: { f: (x) => -x, df: () => -1 },
  exp: { f: Math.exp, df: (_x, y) => y },
  log: { f: Math.log, df: (x) => 1 / x },
  sigmoid: { f: sigmoid, df: (_x, y) => y * (1 - y) },
  logsigmoid: { f: (x) => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x))), df: (x) => 1 - sigmoid(x) },
  softplus: { f: (x) => (x >= 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))), df: (x) => sigmoid(x) },
  square: { f: (x) => x * x, df: (x) => 2 * x },
  detach: { f: (x) => x, df: () => 0 },
};

/** f(a, b) and its partial derivatives; comparisons give 1/0 and no gradient. */
const BINARY: Record<LossBinaryFn, { f: (a: number, b: number) => number; da: (a: number, b: number) => number; db: (a: number, b: number) => number }> = {
  add: { f: (a, b) => a + b, da: () => 1, db: () => 1 },
  sub: { f: (a, b) => a - b, da: () => 1, db: () => -1 },
  mul: { f: (a, b) => a * b, da: (_a, b) => b, db: (a) => a },
  div: { f: (a, b) => a / b, da: (_a, b) => 1 / b, db: (a, b) => -a / (b * b) },
  pow: { f: (a, b) => a ** b, da: (a, b) => (b === 0 ? 0 : b * a ** (b - 1)), db: (a, b) => (a > 0 ? a ** b * Math.log(a) : 0) },
  maximum: { f: Math.max, da: (a, b) => (a >= b ? 1 : 0), db: (a, b) => (a >= b ? 0 : 1) },
  minimum: { f: Math.min, da: (a, b) => (a <= b ? 1 : 0), db: (a, b) => (a <= b ? 0 : 1) },
  gt: { f: (a, b) => (a > b ? 1 : 0), da: () => 0, db: () => 0 },
  lt: { f: (a, b) => (a < b ? 1 : 0), da: () => 0, db: () => 0 },
  ge: { f: (a, b) => (a >= b ? 1 : 0), da: () => 0, db: () => 0 },
  le: { f: (a, b) => (a <= b ? 1 : 0), da: () => 0, db: () => 0 },
  eq: { f: (a, b) => (a === b ? 1 : 0), da: () => 0, db: () => 0 },
};

/** Evaluates `program` on `inputs`; with `withGradient`, also d loss / d logprobs. */
export function evaluateLossProgram(program: LossProgram, inputs: LossProgramInputs, withGradient: boolean): LossProgramResult {
  const { steps } = program;
  const values: Value[] = new Array(steps.length);
  const tensorAt = (i: number, what: string): Tensor => {
    const v = values[i];
    if (v === undefined) throw new EngineUserError(`custom loss: step ${i} is used before it is computed`);
    if (isList(v)) throw new EngineUserError(`custom loss: ${what} needs a tensor, got a list (index it per datum first)`);
    return v;
  };
  for (let i = 0; i < steps.length; i++) values[i] = forwardStep(steps[i]!, i, values, tensorAt, inputs);
  checkEveryDatumRead(steps, values);

  const lossValue = tensorAt(program.loss, 'the loss');
  let loss = 0;
  for (const x of lossValue.data) loss += x;
  if (!Number.isFinite(loss)) throw new EngineUserError(`custom loss evaluated to ${loss}`);
  const metrics: Record<string, number> = { 'loss:sum': loss };
  for (const [name, at] of Object.entries(program.metrics)) {
    const m = tensorAt(at, `metric ${name}`);
    if (m.rank !== 0) throw new EngineUserError(`custom loss: metric ${name} must be a scalar, got ${m.data.length} values`);
    metrics[name] = m.data[0]!;
  }
  if (!withGradient) return { loss, metrics, dlogprobs: null };

  const grads: (Grad | null)[] = new Array(steps.length).fill(null);
  grads[program.loss] = new Float64Array(lossValue.data.length).fill(1);
  for (let i = steps.length - 1; i >= 0; i--) {
    const g = grads[i];
    if (g === null || g === undefined) continue;
    backwardStep(steps[i]!, values, grads, g);
  }
  const logprobs = inputs['logprobs'] ?? [];
  const dlogprobs = logprobs.map((lp) => new Float32Array(lp.length));
  steps.forEach((s, i) => {
    if (s.op !== 'input' || s.name !== 'logprobs') return;
    const g = grads[i];
    if (!Array.isArray(g)) return;
    g.forEach((gd, d) => {
      if (gd === null) return;
      const out = dlogprobs[d]!;
      for (let k = 0; k < out.length; k++) out[k]! += gd[k]!;
    });
  });
  for (const g of dlogprobs) {
    for (const x of g) if (!Number.isFinite(x)) throw new EngineUserError('custom loss: its gradient is not finite');
  }
  return { loss, metrics, dlogprobs };
}

/**
 * A loss traced for fewer datums than the batch has would leave the rest without gradient:
 * a silently wrong step. Datums are reached by indexing the logprobs list (`item`) or by
 * concatenating it whole (`cat` / `stack`), so every datum must be reached one of these ways.
 */
function checkEveryDatumRead(steps: readonly LossStep[], values: readonly Value[]): void {
  const read = new Set<number>();
  let batch = -1;
  let all = false;
  const isLogprobs = (k: number) => steps[k]?.op === 'input' && (steps[k] as { name: string }).name === 'logprobs';
  steps.forEach((s, i) => {
    if (s.op === 'input' && s.name === 'logprobs') batch = (values[i] as TensorList).list.length;
    if ((s.op === 'cat' || s.op === 'stack') && isLogprobs(s.xs)) all = true;
    if (s.op !== 'item') return;
    const from = steps[s.x];
    const v = values[s.x]!;
    if (from?.op !== 'input' || from.name !== 'logprobs' || !isList(v)) return;
    read.add(s.index < 0 ? v.list.length + s.index : s.index);
  });
  if (all || batch < 0 || read.size === batch) return;
  const unread: number[] = [];
  for (let d = 0; d < batch && unread.length < 5; d++) if (!read.has(d)) unread.push(d);
  throw new EngineUserError(
    `custom loss: the batch has ${batch} datums but the loss reads the logprobs of ${read.size} of them ` +
      `(not datum ${unread.join(', ')}${batch - read.size > unread.length ? ', …' : ''}), which would get no gradient; ` +
      'trace the loss for the batch size you send',
  );
}

function forwardStep(s: LossStep, i: number, values: Value[], tensorAt: (i: number, what: string) => Tensor, inputs: LossProgramInputs): Value {
  switch (s.op) {
    case 'input': {
      const per = inputs[s.name];
      if (per === undefined) throw new EngineUserError(`custom loss: no values for input ${s.name}`);
      return {
        list: per.map((v, d) => {
          if (s.rank === 0 && v.length !== 1) throw new EngineUserError(`custom loss: input ${s.name} of datum ${d} must be one value (rank 0), got ${v.length}`);
          return { rank: s.rank, data: Float64Array.from(v) };
        }),
      };
    }
    case 'const':
      return scalar(s.value);
    case 'list':
      return { list: s.items.map((k) => tensorAt(k, 'a list item')) };
    case 'item': {
      const v = values[s.x]!;
      if (isList(v)) {
        const k = s.index < 0 ? v.list.length + s.index : s.index;
        if (k < 0 || k >= v.list.length) throw new EngineUserError(`custom loss: index ${s.index} is outside the ${v.list.length} datums of the batch`);
        return v.list[k]!;
      }
      if (v.rank !== 1) throw new EngineUserError('custom loss: cannot index a scalar');
      const k = s.index < 0 ? v.data.length + s.index : s.index;
      if (k < 0 || k >= v.data.length) throw new EngineUserError(`custom loss: index ${s.index} is outside a tensor of ${v.data.length} values`);
      return scalar(v.data[k]!);
    }
    case 'slice': {
      const x = tensorAt(s.x, 'a slice');
      if (x.rank !== 1) throw new EngineUserError('custom loss: cannot slice a scalar');
      const idx = sliceIndices(x.data.length, s);
      return { rank: 1, data: Float64Array.from(idx, (k) => x.data[k]!) };
    }
    case 'unary': {
      const x = tensorAt(s.x, s.fn);
      const f = UNARY[s.fn].f;
      return { rank: x.rank, data: x.data.map(f) };
    }
    case 'binary': {
      const a = tensorAt(s.a, s.fn);
      const b = tensorAt(s.b, s.fn);
      const n = broadcastLength(a, b, s.fn);
      const f = BINARY[s.fn].f;
      const out = new Float64Array(n);
      for (let k = 0; k < n; k++) out[k] = f(at(a, k), at(b, k));
      return { rank: a.rank === 1 || b.rank === 1 ? 1 : 0, data: out };
    }
    case 'sum':
    case 'mean': {
      const x = tensorAt(s.x, s.op);
      if (s.op === 'mean' && x.data.length === 0) throw new EngineUserError('custom loss: mean of an empty tensor');
      let t = 0;
      for (const v of x.data) t += v;
      return scalar(s.op === 'mean' ? t / x.data.length : t);
    }
    case 'clamp': {
      const x = tensorAt(s.x, 'clamp');
      const lo = s.min ?? -Infinity;
      const hi = s.max ?? Infinity;
      return { rank: x.rank, data: x.data.map((v) => (v < lo ? lo : v > hi ? hi : v)) };
    }
    case 'where': {
      const c = tensorAt(s.cond, 'where');
      const a = tensorAt(s.a, 'where');
      const b = tensorAt(s.b, 'where');
      const n = Math.max(broadcastLength(c, a, 'where'), broadcastLength(c, b, 'where'), broadcastLength(a, b, 'where'));
      const out = new Float64Array(n);
      for (let k = 0; k < n; k++) out[k] = at(c, k) !== 0 ? at(a, k) : at(b, k);
      return { rank: c.rank === 1 || a.rank === 1 || b.rank === 1 ? 1 : 0, data: out };
    }
    case 'gather': {
      const x = tensorAt(s.x, 'gather');
      const index = gatherIndex(x, tensorAt(s.index, 'gather'));
      return { rank: 1, data: Float64Array.from(index, (k) => x.data[k]!) };
    }
    case 'cat':
    case 'stack': {
      const v = values[s.xs]!;
      if (!isList(v)) throw new EngineUserError(`custom loss: ${s.op} needs a list of tensors`);
      const want = s.op === 'cat' ? 1 : 0;
      let n = 0;
      for (const t of v.list) {
        if (t.rank !== want) throw new EngineUserError(`custom loss: ${s.op} takes ${want === 1 ? 'rank-1 tensors (stack scalars instead)' : 'scalars (cat rank-1 tensors instead)'}`);
        n += t.data.length;
      }
      const out = new Float64Array(n);
      let o = 0;
      for (const t of v.list) {
        out.set(t.data, o);
        o += t.data.length;
      }
      return { rank: 1, data: out };
    }
    case 'dot': {
      const a = tensorAt(s.a, 'dot');
      const b = tensorAt(s.b, 'dot');
      if (a.rank !== 1 || b.rank !== 1 || a.data.length !== b.data.length) {
        throw new EngineUserError(`custom loss: dot needs two rank-1 tensors of one length, got ${a.data.length} and ${b.data.length} values`);
      }
      let t = 0;
      for (let k = 0; k < a.data.length; k++) t += a.data[k]! * b.data[k]!;
      return scalar(t);
    }
  }
  throw new EngineUserError(`custom loss: step ${i} has an unknown operation`);
}

function backwardStep(s: LossStep, values: Value[], grads: (Grad | null)[], g: Grad): void {
  const gt = g as Float64Array;
  const v = (k: number) => values[k] as Tensor;
  switch (s.op) {
    case 'input':
    case 'const':
      return;
    case 'list': {
      const gl = g as (Float64Array | null)[];
      s.items.forEach((k, j) => {
        if (gl[j]) accumulate(grads, k, v(k), gl[j]!);
      });
      return;
    }
    case 'item': {
      const x = values[s.x]!;
      if (isList(x)) {
        const k = s.index < 0 ? x.list.length + s.index : s.index;
        let gl = grads[s.x] as (Float64Array | null)[] | null;
        if (!gl) grads[s.x] = gl = new Array(x.list.length).fill(null);
        const target = gl[k] ?? (gl[k] = new Float64Array(x.list[k]!.data.length));
        for (let j = 0; j < target.length; j++) target[j]! += gt[j]!;
        return;
      }
      const k = s.index < 0 ? x.data.length + s.index : s.index;
      const d = new Float64Array(x.data.length);
      d[k] = gt[0]!;
      accumulate(grads, s.x, x, d);
      return;
    }
    case 'slice': {
      const x = v(s.x);
      const d = new Float64Array(x.data.length);
      sliceIndices(x.data.length, s).forEach((k, j) => (d[k]! += gt[j]!));
      accumulate(grads, s.x, x, d);
      return;
    }
    case 'unary': {
      const x = v(s.x);
      const { f, df } = UNARY[s.fn];
      const d = x.data.map((xv, k) => gt[k]! * df(xv, f(xv)));
      accumulate(grads, s.x, x, d);
      return;
    }
    case 'binary': {
      const a = v(s.a);
      const b = v(s.b);
      const { da, db } = BINARY[s.fn];
      const ga = new Float64Array(gt.length);
      const gb = new Float64Array(gt.length);
      for (let k = 0; k < gt.length; k++) {
        const av = at(a, k);
        const bv = at(b, k);
        ga[k] = gt[k]! * da(av, bv);
        gb[k] = gt[k]! * db(av, bv);
      }
      accumulate(grads, s.a, a, ga);
      accumulate(grads, s.b, b, gb);
      return;
    }
    case 'sum':
    case 'mean': {
      const x = v(s.x);
      const scale = s.op === 'mean' ? 1 / x.data.length : 1;
      accumulate(grads, s.x, x, new Float64Array(x.data.length).fill(gt[0]! * scale));
      return;
    }
    case 'clamp': {
      const x = v(s.x);
      const lo = s.min ?? -Infinity;
      const hi = s.max ?? Infinity;
      accumulate(grads, s.x, x, x.data.map((xv, k) => (xv >= lo && xv <= hi ? gt[k]! : 0)));
      return;
    }
    case 'where': {
      const c = v(s.cond);
      const a = v(s.a);
      const b = v(s.b);
      const ga = new Float64Array(gt.length);
      const gb = new Float64Array(gt.length);
      for (let k = 0; k < gt.length; k++) {
        if (at(c, k) !== 0) ga[k] = gt[k]!;
        else gb[k] = gt[k]!;
      }
      accumulate(grads, s.a, a, ga);
      accumulate(grads, s.b, b, gb);
      return;
    }
    case 'gather': {
      const x = v(s.x);
      const d = new Float64Array(x.data.length);
      gatherIndex(x, v(s.index)).forEach((k, j) => (d[k]! += gt[j]!));
      accumulate(grads, s.x, x, d);
      return;
    }
    case 'cat':
    case 'stack': {
      const list = (values[s.xs] as TensorList).list;
      let gl = grads[s.xs] as (Float64Array | null)[] | null;
      if (!gl) grads[s.xs] = gl = new Array(list.length).fill(null);
      let o = 0;
      list.forEach((t, j) => {
        const part = gt.subarray(o, o + t.data.length);
        o += t.data.length;
        const target = gl![j] ?? (gl![j] = new Float64Array(t.data.length));
        for (let k = 0; k < target.length; k++) target[k]! += part[k]!;
      });
      return;
    }
    case 'dot': {
      const a = v(s.a);
      const b = v(s.b);
      accumulate(grads, s.a, a, b.data.map((bv) => bv * gt[0]!));
      accumulate(grads, s.b, b, a.data.map((av) => av * gt[0]!));
      return;
    }
  }
}

/** Adds gradient `d` (of the broadcast result's length) into step k's gradient, summing where x was broadcast. */
function accumulate(grads: (Grad | null)[], k: number, x: Tensor, d: Float64Array): void {
  let g = grads[k] as Float64Array | null;
  if (!g) grads[k] = g = new Float64Array(x.data.length);
  if (x.data.length === d.length) {
    for (let j = 0; j < d.length; j++) g[j]! += d[j]!;
  } else {
    let t = 0;
    for (const dv of d) t += dv;
    g[0]! += t;
  }
}

function at(t: Tensor, k: number): number {
  return t.rank === 0 ? t.data[0]! : t.data[k]!;
}

function broadcastLength(a: Tensor, b: Tensor, what: string): number {
  if (a.rank === 0) return b.data.length;
  if (b.rank === 0) return a.data.length;
  if (a.data.length !== b.data.length) throw new EngineUserError(`custom loss: ${what} of tensors of ${a.data.length} and ${b.data.length} values (shapes do not broadcast)`);
  return a.data.length;
}

function sliceIndices(n: number, s: { start: number | null; stop: number | null; step: number | null }): number[] {
  const step = s.step ?? 1;
  if (step <= 0) throw new EngineUserError('custom loss: slice steps must be positive');
  const norm = (x: number) => Math.min(n, Math.max(0, x < 0 ? n + x : x));
  const start = s.start === null ? 0 : norm(s.start);
  const stop = s.stop === null ? n : norm(s.stop);
  const out: number[] = [];
  for (let k = start; k < stop; k += step) out.push(k);
  return out;
}

function gatherIndex(x: Tensor, index: Tensor): number[] {
  if (x.rank !== 1 || index.rank !== 1) throw new EngineUserError('custom loss: gather takes a rank-1 tensor and a rank-1 index');
  return Array.from(index.data, (k) => {
    if (!Number.isInteger(k) || k < 0 || k >= x.data.length) throw new EngineUserError(`custom loss: gather index ${k} is outside a tensor of ${x.data.length} values`);
    return k;
  });
}
