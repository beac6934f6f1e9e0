/**
 * Rebuilds a client's traced custom loss (CustomLossGraph, fx-style nodes) into the engine's
 * LossProgram, using only the operations in ALLOWED below: a target that is not there is refused
 * with a 400 naming it, so nothing a client sends is ever executed as code. Each allowed call maps
 * to one primitive of the engine's evaluator (loss-graph.ts in the engine).
 */
import { checkCreateCustomLoss, type CreateCustomLossRequest } from '@tinker-ts/protocol';
import type { LossBinaryFn, LossProgram, LossStep, LossUnaryFn } from '@tinker-ts/engine';
import { BadRequestError } from './errors.js';

/** A decoded argument: JSON scalars, lists, or one of the one-key encodings. */
type Arg = number | boolean | string | null | Arg[] | { step: number } | { slice: (number | null)[] } | { dict: Record<string, Arg> } | { word: string };

interface Builder {
  /** Positional arguments (after self for methods) and keyword names this call takes. */
  build(b: ProgramBuilder, args: Arg[], kwargs: Record<string, Arg>): number;
}

class ProgramBuilder {
  readonly steps: LossStep[] = [];
  /** Steps that hold a list (inputs and list literals) rather than a tensor. */
  readonly lists = new Set<number>();
  /** The node being rebuilt, for error messages. */
  where = 'graph';

  fail(message: string): never {
    throw new BadRequestError(`custom loss graph: ${this.where}: ${message}`, { field: this.where });
  }

  emit(step: LossStep): number {
    this.steps.push(step);
    return this.steps.length - 1;
  }

  /** A tensor operand: a node's value, or a number made a constant. */
  tensor(a: Arg | undefined, what: string): number {
    if (typeof a === 'number') return this.emit({ op: 'const', value: a });
    if (typeof a === 'boolean') return this.emit({ op: 'const', value: a ? 1 : 0 });
    if (isStep(a)) {
      if (this.lists.has(a.step)) this.fail(`${what} must be a tensor, got a per-datum list (index it first)`);
      return a.step;
    }
    return this.fail(`${what} must be a tensor or a number, got ${describe(a)}`);
  }

  /** A list operand: an input (one value per datum) or a list of tensors. */
  list(a: Arg | undefined, what: string): number {
    if (isStep(a) && this.lists.has(a.step)) return a.step;
    if (Array.isArray(a)) {
      const items = a.map((x, i) => this.tensor(x, `${what}[${i}]`));
      const at = this.emit({ op: 'list', items });
      this.lists.add(at);
      return at;
    }
    return this.fail(`${what} must be a list of tensors, got ${describe(a)}`);
  }

  /** A plain number (or null when `nullable`), e.g. a clamp bound. */
  number(a: Arg | undefined, what: string, nullable: boolean): number | null {
    if (typeof a === 'number') return a;
    if ((a === null || a === undefined) && nullable) return null;
    return this.fail(`${what} must be a number${nullable ? ' or None' : ''}, got ${describe(a)}`);
  }

  /** A reduction or concatenation dim: rank ≤ 1 values only have dim 0 (-1). */
  dim(a: Arg | undefined, nullable: boolean): void {
    if ((a === null || a === undefined) && nullable) return;
    if (a !== 0 && a !== -1) this.fail(`dim must be 0 or -1 (values have rank 0 or 1), got ${describe(a)}`);
  }
}

function isStep(a: Arg | undefined): a is { step: number } {
  return typeof a === 'object' && a !== null && !Array.isArray(a) && 'step' in a;
}

function describe(a: Arg | undefined): string {
  if (a === undefined) return 'nothing';
  if (isStep(a)) return 'a node';
  if (Array.isArray(a)) return 'a list';
  if (typeof a === 'object' && a !== null) return 'word' in a ? `${a.word.split('=')[0]} argument` : `${Object.keys(a)[0]} argument`;
  return JSON.stringify(a);
}

/** Takes positional-or-keyword parameters by name, refusing unknown keywords and extra positionals. */
function params(b: ProgramBuilder, args: Arg[], kwargs: Record<string, Arg>, names: readonly string[]): (Arg | undefined)[] {
  if (args.length > names.length) b.fail(`takes at most ${names.length} arguments (${names.join(', ')}), got ${args.length}`);
  const out: (Arg | undefined)[] = names.map((_, i) => args[i]);
  for (const [key, v] of Object.entries(kwargs)) {
    const i = names.indexOf(key);
    if (i < 0) b.fail(`has no keyword argument ${key} (it takes ${names.join(', ')})`);
    if (out[i] !== undefined) b.fail(`got ${key} twice`);
    out[i] = v;
  }
  return out;
}

const unary = (fn: LossUnaryFn): Builder => ({
  build: (b, args, kwargs) => {
    const [x] = params(b, args, kwargs, ['input']);
    return b.emit({ op: 'unary', fn, x: b.tensor(x, 'input') });
  },
});

const binary = (fn: LossBinaryFn): Builder => ({
  build: (b, args, kwargs) => {
    const [x, y] = params(b, args, kwargs, ['input', 'other']);
    return b.emit({ op: 'binary', fn, a: b.tensor(x, 'input'), b: b.tensor(y, 'other') });
  },
});

const reduce = (op: 'sum' | 'mean'): Builder => ({
  build: (b, args, kwargs) => {
    const [x, dim] = params(b, args, kwargs, ['input', 'dim']);
    b.dim(dim, true);
    return b.emit({ op, x: b.tensor(x, 'input') });
  },
});

const join = (op: 'cat' | 'stack'): Builder => ({
  build: (b, args, kwargs) => {
    const [xs, dim] = params(b, args, kwargs, ['tensors', 'dim']);
    b.dim(dim, true);
    return b.emit({ op, xs: b.list(xs, 'tensors') });
  },
});

const getitem: Builder = {
  build: (b, args, kwargs) => {
    const [x, index] = params(b, args, kwargs, ['input', 'index']);
    const of = isStep(x) ? x.step : b.fail(`indexes ${describe(x)}; only node values can be indexed`);
    if (typeof index === 'number' && Number.isInteger(index)) return b.emit({ op: 'item', x: of, index });
    if (typeof index === 'object' && index !== null && 'slice' in index) {
      if (b.lists.has(of)) b.fail('slices a per-datum list; index one datum at a time');
      const [start, stop, step] = index.slice as [number | null, number | null, number | null];
      if (step !== null && step <= 0) b.fail('slice steps must be positive');
      return b.emit({ op: 'slice', x: of, start, stop, step });
    }
    return b.fail(`index must be an integer or a slice, got ${describe(index)}`);
  },
};

const clamp: Builder = {
  build: (b, args, kwargs) => {
    const [x, min, max] = params(b, args, kwargs, ['input', 'min', 'max']);
    const lo = b.number(min, 'min', true);
    const hi = b.number(max, 'max', true);
    if (lo !== null && hi !== null && lo > hi) b.fail(`min ${lo} is above max ${hi}`);
    return b.emit({ op: 'clamp', x: b.tensor(x, 'input'), min: lo, max: hi });
  },
};

const where: Builder = {
  build: (b, args, kwargs) => {
    const [cond, x, y] = params(b, args, kwargs, ['condition', 'input', 'other']);
    return b.emit({ op: 'where', cond: b.tensor(cond, 'condition'), a: b.tensor(x, 'input'), b: b.tensor(y, 'other') });
  },
};

const gather: Builder = {
  build: (b, args, kwargs) => {
    const [x, dim, index] = params(b, args, kwargs, ['input', 'dim', 'index']);
    b.dim(dim, false);
    return b.emit({ op: 'gather', x: b.tensor(x, 'input'), index: b.tensor(index, 'index') });
  },
};

const dot: Builder = {
  build: (b, args, kwargs) => {
    const [x, y] = params(b, args, kwargs, ['input', 'other']);
    return b.emit({ op: 'dot', a: b.tensor(x, 'input'), b: b.tensor(y, 'other') });
  },
};

const detach: Builder = unary('detach');

/** `call_function` targets: qualified names as torch.fx records them. */
const FUNCTIONS: Readonly<Record<string, Builder>> = {
  'operator.add': binary('add'), 'torch.add': binary('add'),
  'operator.sub': binary('sub'), 'torch.sub': binary('sub'),
  'operator.mul': binary('mul'), 'torch.mul': binary('mul'),
  'operator.truediv': binary('div'), 'torch.div': binary('div'),
  'operator.pow': binary('pow'), 'torch.pow': binary('pow'),
  'operator.gt': binary('gt'), 'torch.gt': binary('gt'),
  'operator.lt': binary('lt'), 'torch.lt': binary('lt'),
  'operator.ge': binary('ge'), 'torch.ge': binary('ge'),
  'operator.le': binary('le'), 'torch.le': binary('le'),
  'operator.eq': binary('eq'), 'torch.eq': binary('eq'),
  'torch.maximum': binary('maximum'), 'torch.minimum': binary('minimum'),
  'operator.neg': unary('neg'), 'torch.neg': unary('neg'),
  'torch.exp': unary('exp'), 'torch.log': unary('log'), 'torch.sigmoid': unary('sigmoid'), 'torch.square': unary('square'),
  'torch.nn.functional.logsigmoid': unary('logsigmoid'), 'torch.nn.functional.softplus': unary('softplus'),
  'torch.detach': detach,
  'operator.getitem': getitem,
  'torch.sum': reduce('sum'), 'torch.mean': reduce('mean'),
  'torch.clamp': clamp, 'torch.where': where, 'torch.gather': gather, 'torch.dot': dot,
  'torch.cat': join('cat'), 'torch.stack': join('stack'),
};

/** `call_method` targets: tensor methods (the first argument is the tensor). */
const METHODS: Readonly<Record<string, Builder>> = {
  add: binary('add'), sub: binary('sub'), mul: binary('mul'), div: binary('div'), pow: binary('pow'),
  gt: binary('gt'), lt: binary('lt'), ge: binary('ge'), le: binary('le'), eq: binary('eq'),
  maximum: binary('maximum'), minimum: binary('minimum'),
  neg: unary('neg'), exp: unary('exp'), log: unary('log'), sigmoid: unary('sigmoid'), square: unary('square'),
  detach,
  sum: reduce('sum'), mean: reduce('mean'),
  clamp, gather, dot,
};

/** The operations a graph may call, for error messages and docs. */
export const ALLOWED_CUSTOM_LOSS_TARGETS: { call_function: readonly string[]; call_method: readonly string[] } = {
  call_function: Object.keys(FUNCTIONS),
  call_method: Object.keys(METHODS),
};

/** Checks a create_custom_loss request and rebuilds its graph (400 on anything malformed or not allowed). */
export function rebuildCustomLoss(req: CreateCustomLossRequest): LossProgram {
  checkCreateCustomLoss(req);
  const nodeStep = new Map<string, number>();
  const b = new ProgramBuilder();
  let loss = -1;
  const metrics: Record<string, number> = {};

  req.graph.nodes.forEach((node, i) => {
    b.where = `graph.nodes[${i}]`;
    const decode = (a: unknown): Arg => decodeArg(a, nodeStep, b);
    switch (node.op) {
      case 'placeholder': {
        const input = req.inputs[i]!;
        const at = b.emit({ op: 'input', name: input.name, rank: input.rank });
        b.lists.add(at);
        nodeStep.set(node.name, at);
        return;
      }
      case 'get_attr':
        return b.fail(`get_attr ${JSON.stringify(node.target)} is not allowed (a loss reads only its inputs)`);
      case 'call_function':
      case 'call_method': {
        const table = node.op === 'call_function' ? FUNCTIONS : METHODS;
        const builder = Object.hasOwn(table, node.target) ? table[node.target] : undefined;
        if (!builder) {
          throw new BadRequestError(
            `custom loss graph: node ${node.name} calls ${node.op} ${JSON.stringify(node.target)}, which is not an allowed operation ` +
              `(allowed ${node.op} targets: ${Object.keys(table).join(', ')})`,
            { field: `graph.nodes[${i}].target` },
          );
        }
        const args = node.args.map(decode);
        const kwargs: Record<string, Arg> = {};
        for (const [k, v] of Object.entries(node.kwargs)) kwargs[k] = decode(v);
        nodeStep.set(node.name, builder.build(b, args, kwargs));
        return;
      }
      case 'output': {
        const out = decode(node.args[0]);
        if (Array.isArray(out)) {
          if (out.length < 1 || out.length > 2) b.fail('the output is the loss, or (loss, metrics)');
          loss = b.tensor(out[0], 'the loss');
          const m = out[1];
          if (m !== undefined && m !== null) {
            if (typeof m !== 'object' || Array.isArray(m) || !('dict' in m)) b.fail('metrics must be a dict of name → value');
            for (const [name, v] of Object.entries((m as { dict: Record<string, Arg> }).dict)) {
              if (name === 'loss:sum') b.fail('metric loss:sum is reported by the server');
              metrics[name] = b.tensor(v, `metric ${name}`);
            }
          }
        } else {
          loss = b.tensor(out, 'the loss');
        }
        return;
      }
    }
  });
  if (loss < 0) throw new BadRequestError('custom loss graph: it returns no loss', { field: 'graph.nodes' });
  return { steps: b.steps, loss, metrics };
}

function decodeArg(a: unknown, nodeStep: ReadonlyMap<string, number>, b: ProgramBuilder): Arg {
  if (a === null || typeof a === 'number' || typeof a === 'boolean' || typeof a === 'string') return a;
  if (Array.isArray(a)) return a.map((x) => decodeArg(x, nodeStep, b));
  const [key, v] = Object.entries(a as Record<string, unknown>)[0]!;
  switch (key) {
    case 'ref': {
      const step = nodeStep.get(v as string);
      return step === undefined ? b.fail(`refers to ${JSON.stringify(v)}, which has no value`) : { step };
    }
    case 'tuple':
      return (v as unknown[]).map((x) => decodeArg(x, nodeStep, b));
    case 'dict': {
      const out: Record<string, Arg> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = decodeArg(x, nodeStep, b);
      return { dict: out };
    }
    case 'slice':
      return { slice: v as (number | null)[] };
    case 'float':
      return v === 'inf' ? Infinity : v === '-inf' ? -Infinity : NaN;
    default:
      // ellipsis, dtype, device, layout, memory_format: accepted in form, refused where a value is needed.
      return { word: `${key}=${String(v)}` };
  }
}
