/**
 * Base model names as requests write them (create_model, sampling sessions, asample, weights,
 * the OpenAI/Anthropic `model`): a listed model, or a `:peft:<ctx>` / `:sampling-nvfp4` variant
 * of one (parsed by protocol's parseModelId). A variant's context length bounds prompt plus
 * generation; a sampling-only id cannot be trained.
 */
import { deprecationNotice, parseModelId, type ModelId } from '@tinker-ts/protocol';
import type { ServerContext } from './context.js';
import type { EngineModelInfo } from './engine-port.js';
import { BadRequestError } from './errors.js';

/** What a model id resolves to: the listing as the id names it (its own name and context). */
export interface ResolvedModel extends EngineModelInfo {
  /** The listed base model the id is a variant of (itself when no suffix). */
  base: string;
  trainable: boolean;
  sampleable: boolean;
  /** Set when hosted Tinker retired the model (the server still serves it). */
  deprecation: string | null;
}

export type ModelUse = 'train' | 'sample';

function describe(info: EngineModelInfo, base: string, samplingOnly: boolean): ResolvedModel {
  return { ...info, base, trainable: !samplingOnly, sampleable: true, deprecation: deprecationNotice(info.model_name) };
}

/**
 * Resolves `name` for `use`; 400 (naming `field`) for a malformed id, an unknown base, a context
 * longer than the base takes, or a sampling-only id given for training.
 */
export function resolveModel(ctx: ServerContext, name: string, field = 'base_model', use: ModelUse = 'sample'): ResolvedModel {
  const exact = ctx.models.find((m) => m.model_name === name);
  // A listed name is served as listed, even one that is not a hosted-style id (a local model
  // registered as "acme/tiny:v2").
  const id = exact ? softParse(name) : parseModelId(name, field);
  const baseInfo = ctx.models.find((m) => m.model_name === id.base);
  if (!exact && !baseInfo) {
    throw new BadRequestError(
      `unknown ${field} ${JSON.stringify(name)}; this server serves: ${ctx.models.map((m) => m.model_name).join(', ')}`,
      { field },
    );
  }
  if (use === 'train' && id.samplingOnly) {
    throw new BadRequestError(
      `${field} ${JSON.stringify(name)} is a sampling-only id (":sampling-nvfp4"); train on ${name.slice(0, -':sampling-nvfp4'.length)} and sample from it with either id`,
      { field },
    );
  }
  if (exact) return describe(exact, id.base, id.samplingOnly);
  const info = baseInfo!;
  if (id.peftContext === null) return describe({ ...info, model_name: name }, id.base, id.samplingOnly);
  // The longest context of the base (or of the model an alias stands for): its own or any listed variant's.
  const target = info.alias_of ?? id.base;
  const longest = Math.max(
    ...ctx.models.filter((m) => m.model_name === target || m.model_name.startsWith(`${target}:peft:`)).map((m) => m.max_context_length),
  );
  if (id.peftContext > longest) {
    throw new BadRequestError(`${field} ${JSON.stringify(name)}: ${id.base} takes a context of at most ${longest} tokens, not ${id.peftContext}`, { field });
  }
  return describe({ ...info, model_name: name, max_context_length: id.peftContext }, id.base, id.samplingOnly);
}

function softParse(name: string): ModelId {
  try {
    return parseModelId(name);
  } catch {
    return { id: name, base: name, peftContext: null, samplingOnly: false };
  }
}

/** The context length of a model id already accepted (stored on a run or sampling session). */
export function contextLengthOf(ctx: ServerContext, name: string): number {
  try {
    return resolveModel(ctx, name).max_context_length;
  } catch {
    return 0;
  }
}

/** Whether two model ids name the same weights (the same base, whatever the suffixes). */
export function sameBaseModel(a: string, b: string): boolean {
  const baseOf = (n: string) => {
    try {
      return parseModelId(n).base;
    } catch {
      return n;
    }
  };
  return baseOf(a) === baseOf(b);
}
