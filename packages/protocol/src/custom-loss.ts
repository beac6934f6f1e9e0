/**
 * Server-side custom losses (Tinker 0.38 types): a client registers a loss once as a traced graph
 * (`create_custom_loss`) and names it in forward_backward, so the loss costs one pass.
 *
 * The message types follow the 0.38.0 API reference (CreateCustomLossRequest, CustomLossGraph,
 * CustomLossNode, CustomLossInput, CreateCustomLossResponse). The route name and the
 * forward_backward field that carries the loss id are not published: this wire uses
 * `POST /api/v1/create_custom_loss` and `forward_backward_input.loss_fn = "custom"` with
 * `loss_id` beside it.
 *
 * The checks here are about form (sizes, names, arg encodings, references to earlier nodes);
 * which operations a graph may call is the server's allow-list.
 */
import { ValidationError } from './errors.js';
import { modelInputLength } from './model-input.js';
import { array, int, literal, object, optional, record, string, unknownValue, type Schema } from './schema.js';
import { checkTensorStructure, tensorShape } from './tensor.js';
import type { Datum } from './types.js';

/** The loss_fn of a forward_backward that names a custom loss by `loss_id`. */
export const CUSTOM_LOSS_FN = 'custom';

/** The fx node kinds a graph may record. */
export type CustomLossNodeOp = 'placeholder' | 'call_function' | 'call_method' | 'get_attr' | 'output';
export const CUSTOM_LOSS_NODE_OPS: readonly CustomLossNodeOp[] = ['placeholder', 'call_function', 'call_method', 'get_attr', 'output'];

/** One node of a traced loss, as torch.fx records it; args and kwargs use the encodings below. */
export interface CustomLossNode {
  op: CustomLossNodeOp;
  /** Unique within the graph; later nodes refer to it as `{"ref": name}`. */
  name: string;
  /** Placeholder: the input's name; call_function: a qualified name (`torch.exp`); call_method: a method name; output: `output`. */
  target: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

export interface CustomLossGraph {
  format: 1;
  /** In execution order. */
  nodes: CustomLossNode[];
}

/**
 * The rank of every datum's value of an input. The reference names the type only
 * (CustomLossInputRank); this wire takes 0 (one number per datum) and 1 (one per token).
 */
export type CustomLossInputRank = 0 | 1;

export interface CustomLossInput {
  /** `logprobs` (the model's target-token logprobs), or the loss_fn_inputs key the loss reads. */
  name: string;
  rank: CustomLossInputRank;
}

export interface CreateCustomLossRequest {
  session_id: string;
  custom_loss_seq_id: number;
  name: string;
  /** The graph's inputs in order, `logprobs` first. */
  inputs: CustomLossInput[];
  graph: CustomLossGraph;
  type?: 'create_custom_loss';
}

export interface CreateCustomLossResponse {
  /** Names the stored loss in forward_backward requests of the same session. */
  loss_id: string;
  type: 'create_custom_loss';
}

/** Bounds that keep one graph small to check and cheap to evaluate. */
export const CUSTOM_LOSS_LIMITS = Object.freeze({
  maxNodes: 4096,
  maxInputs: 32,
  /** Nesting of one argument (lists in tuples in dicts ...). */
  maxArgDepth: 8,
  /** Items of one argument list, and encoded values of one node. */
  maxArgItems: 4096,
  maxKwargs: 16,
  maxNameLength: 64,
  maxTargetLength: 128,
});

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const name = () =>
  string({ minLength: 1, maxLength: CUSTOM_LOSS_LIMITS.maxNameLength, pattern: NAME, patternName: `identifier of at most ${CUSTOM_LOSS_LIMITS.maxNameLength} characters` });

export const customLossNodeSchema: Schema<CustomLossNode> = object({
  op: literal(...CUSTOM_LOSS_NODE_OPS),
  name: name(),
  target: string({ minLength: 1, maxLength: CUSTOM_LOSS_LIMITS.maxTargetLength }),
  args: array(unknownValue(), { maxLength: CUSTOM_LOSS_LIMITS.maxArgItems }),
  kwargs: optional(record(unknownValue(), { maxKeys: CUSTOM_LOSS_LIMITS.maxKwargs }), {}),
}) as Schema<CustomLossNode>;

export const customLossGraphSchema: Schema<CustomLossGraph> = object({
  format: literal(1),
  nodes: array(customLossNodeSchema, { minLength: 1, maxLength: CUSTOM_LOSS_LIMITS.maxNodes }),
});

export const customLossInputSchema: Schema<CustomLossInput> = object({
  name: name(),
  rank: literal(0, 1),
});

export const createCustomLossRequestSchema: Schema<CreateCustomLossRequest> = object({
  session_id: string({ minLength: 1, maxLength: 1024, patternName: 'non-empty string' }),
  custom_loss_seq_id: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  name: string({ minLength: 1, maxLength: 256, patternName: 'non-empty string' }),
  inputs: array(customLossInputSchema, { minLength: 1, maxLength: CUSTOM_LOSS_LIMITS.maxInputs }),
  graph: customLossGraphSchema,
  type: optional(literal('create_custom_loss')),
});

const FLOAT_WORDS = new Set(['inf', '-inf', 'nan']);
const WORD_ENCODINGS = new Set(['dtype', 'device', 'layout', 'memory_format']);

/**
 * Everything about a parsed request's form beyond its JSON shape: inputs (`logprobs` first, rank 1,
 * unique names), one placeholder per input in order, unique node names, references only to earlier
 * nodes, known arg encodings within the depth and size bounds, one output node, last.
 */
export function checkCreateCustomLoss(req: CreateCustomLossRequest, path = ''): void {
  const at = (key: string) => (path ? `${path}.${key}` : key);
  const { inputs, graph } = req;
  if (inputs[0]!.name !== 'logprobs' || inputs[0]!.rank !== 1) {
    throw new ValidationError('the first input must be {"name": "logprobs", "rank": 1}', at('inputs[0]'));
  }
  const inputNames = new Set<string>();
  inputs.forEach((input, i) => {
    if (inputNames.has(input.name)) throw new ValidationError(`input ${input.name} is declared twice`, at(`inputs[${i}].name`));
    if (i > 0 && (input.name === 'logprobs' || input.name === 'target_tokens')) {
      throw new ValidationError(`${input.name} cannot be a loss_fn_inputs key of a custom loss (the model's logprobs are the first input)`, at(`inputs[${i}].name`));
    }
    inputNames.add(input.name);
  });

  const defined = new Set<string>();
  let placeholders = 0;
  graph.nodes.forEach((node, i) => {
    const nodePath = at(`graph.nodes[${i}]`);
    if (defined.has(node.name)) throw new ValidationError(`node name ${node.name} is used twice`, `${nodePath}.name`);
    if (node.op === 'placeholder') {
      if (placeholders !== i) throw new ValidationError('placeholders must come before every other node', `${nodePath}.op`);
      const want = inputs[placeholders];
      if (want === undefined) throw new ValidationError(`the graph has more placeholders than the ${inputs.length} declared inputs`, nodePath);
      if (node.target !== want.name) {
        throw new ValidationError(`placeholder ${placeholders} must be input ${want.name} (inputs are in order), got ${JSON.stringify(node.target)}`, `${nodePath}.target`);
      }
      placeholders++;
    }
    if (node.op === 'output') {
      if (i !== graph.nodes.length - 1) throw new ValidationError('the output node must be the last node', `${nodePath}.op`);
      if (node.args.length !== 1) throw new ValidationError('the output node takes one argument (what the loss returns)', `${nodePath}.args`);
    }
    const budget = { left: CUSTOM_LOSS_LIMITS.maxArgItems };
    node.args.forEach((a, k) => checkArg(a, `${nodePath}.args[${k}]`, defined, 1, budget));
    for (const [key, a] of Object.entries(node.kwargs)) {
      if (!NAME.test(key)) throw new ValidationError('keyword names must be identifiers', `${nodePath}.kwargs.${key}`);
      checkArg(a, `${nodePath}.kwargs.${key}`, defined, 1, budget);
    }
    defined.add(node.name);
  });
  if (placeholders !== inputs.length) {
    throw new ValidationError(`the graph has ${placeholders} placeholders for ${inputs.length} declared inputs`, at('graph.nodes'));
  }
  if (graph.nodes[graph.nodes.length - 1]!.op !== 'output') throw new ValidationError('the graph must end with an output node', at('graph.nodes'));
}

function checkArg(a: unknown, path: string, defined: ReadonlySet<string>, depth: number, budget: { left: number }): void {
  if (--budget.left < 0) throw new ValidationError(`a node's arguments may hold at most ${CUSTOM_LOSS_LIMITS.maxArgItems} values`, path);
  if (depth > CUSTOM_LOSS_LIMITS.maxArgDepth) throw new ValidationError(`arguments may nest at most ${CUSTOM_LOSS_LIMITS.maxArgDepth} deep`, path);
  if (a === null || typeof a === 'boolean') return;
  if (typeof a === 'number') {
    if (!Number.isFinite(a)) throw new ValidationError('numbers must be finite (write {"float": "inf"})', path);
    return;
  }
  if (typeof a === 'string') {
    if (a.length > 256) throw new ValidationError('strings may have at most 256 characters', path);
    return;
  }
  if (Array.isArray(a)) {
    a.forEach((x, i) => checkArg(x, `${path}[${i}]`, defined, depth + 1, budget));
    return;
  }
  if (typeof a !== 'object') throw new ValidationError(`unsupported argument of type ${typeof a}`, path);
  const keys = Object.keys(a);
  if (keys.length !== 1) throw new ValidationError(`an encoded argument is a one-key object, got keys ${JSON.stringify(keys)}`, path);
  const key = keys[0]!;
  const v = (a as Record<string, unknown>)[key];
  const inner = `${path}.${key}`;
  switch (key) {
    case 'ref':
      if (typeof v !== 'string' || !defined.has(v)) throw new ValidationError(`${JSON.stringify(v)} is not the name of an earlier node`, inner);
      return;
    case 'tuple':
      if (!Array.isArray(v)) throw new ValidationError('expected a list', inner);
      v.forEach((x, i) => checkArg(x, `${inner}[${i}]`, defined, depth + 1, budget));
      return;
    case 'dict':
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('expected an object', inner);
      for (const [k, x] of Object.entries(v)) {
        if (k.length > CUSTOM_LOSS_LIMITS.maxTargetLength) throw new ValidationError('dict keys may have at most 128 characters', inner);
        checkArg(x, `${inner}.${k}`, defined, depth + 1, budget);
      }
      return;
    case 'slice':
      if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => x === null || Number.isInteger(x))) {
        throw new ValidationError('expected [start, stop, step], each an integer or null', inner);
      }
      return;
    case 'ellipsis':
      if (v !== true) throw new ValidationError('expected true', inner);
      return;
    case 'float':
      if (typeof v !== 'string' || !FLOAT_WORDS.has(v)) throw new ValidationError('expected "inf", "-inf" or "nan"', inner);
      return;
    default:
      if (WORD_ENCODINGS.has(key)) {
        if (typeof v !== 'string' || v.length > 64) throw new ValidationError('expected a short string', inner);
        return;
      }
      throw new ValidationError(`unknown argument encoding ${JSON.stringify(key)} (known: ref, tuple, dict, slice, ellipsis, float, dtype, device, layout, memory_format)`, path);
  }
}

/**
 * The data of a forward_backward that names a custom loss: target_tokens [N] (int64) and every
 * declared input (float32 or int64; rank 1: [N], rank 0: one value), nothing else.
 */
export function checkCustomLossData(data: readonly Datum[], inputs: readonly CustomLossInput[], path = 'data'): void {
  const declared = new Map<string, CustomLossInputRank>();
  for (const input of inputs) if (input.name !== 'logprobs') declared.set(input.name, input.rank);
  data.forEach((datum, i) => {
    const datumPath = `${path}[${i}]`;
    const n = modelInputLength(datum.model_input, `${datumPath}.model_input`);
    if (n === 0) throw new ValidationError('model_input is empty', `${datumPath}.model_input`);
    const lfi = datum.loss_fn_inputs;
    const inputsPath = `${datumPath}.loss_fn_inputs`;
    for (const key of ['target_tokens', ...declared.keys()]) {
      if (lfi[key] == null) throw new ValidationError(`the custom loss reads loss_fn_inputs.${key}`, `${inputsPath}.${key}`);
    }
    for (const [key, td] of Object.entries(lfi)) {
      const keyPath = `${inputsPath}.${key}`;
      const rank = key === 'target_tokens' ? 1 : declared.get(key);
      if (rank === undefined) {
        throw new ValidationError(`not an input of the custom loss (it reads ${['target_tokens', ...declared.keys()].join(', ')})`, keyPath);
      }
      checkTensorStructure(td, keyPath);
      const shape = tensorShape(td);
      if (key === 'target_tokens') {
        if (td.dtype !== 'int64') throw new ValidationError(`expected dtype "int64", got ${JSON.stringify(td.dtype)}`, `${keyPath}.dtype`);
        td.data.forEach((t, j) => {
          if (!Number.isInteger(t) || t < 0) throw new ValidationError(`token ids must be non-negative integers, got ${t}`, `${keyPath}.data[${j}]`);
        });
      } else {
        td.data.forEach((x, j) => {
          if (!Number.isFinite(x)) throw new ValidationError(`expected a finite number, got ${x}`, `${keyPath}.data[${j}]`);
        });
      }
      const ok = rank === 1 ? shape.length === 1 && shape[0] === n : td.data.length === 1 && shape.length <= 1;
      if (!ok) {
        throw new ValidationError(
          rank === 1 ? `expected shape [${n}] (one value per token), got [${shape.join(', ')}]` : `expected one value (rank 0), got shape [${shape.join(', ')}]`,
          `${keyPath}.shape`,
        );
      }
    }
  });
}
