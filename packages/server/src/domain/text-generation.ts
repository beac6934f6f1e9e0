/**
 * Text in, text out on top of the engine's token sampler: what the OpenAI- and
 * Anthropic-compatible endpoints share. It renders chat messages with the base model's chat
 * template, checks the request against the context length and the server's limits, samples
 * through the same engine call as `asample`, and turns the sampled tokens back into text the
 * way those APIs report it: the end-of-turn token and a matched stop sequence (with anything
 * after it) are not part of the text, and the finish reason says which ended the completion.
 */
import { Tokenizer, type ChatMessage } from '@tinker-ts/engine';
import type { SampleResponse } from '@tinker-ts/protocol';
import type { ServerContext } from '../context.js';
import { BadRequestError, HttpError } from '../errors.js';
import { checkSampleCost } from '../limits.js';
import type { ServedModel } from './served-models.js';

/** The prompt plus the completion would not fit in the model's context. */
export class ContextLengthError extends HttpError {
  constructor(message: string, field: string) {
    super(400, 'context_length_exceeded', message, { field });
  }
}

export interface GenerationRequest {
  prompt: number[];
  /** Completions to sample from the prompt. */
  n: number;
  /** null: up to the end of the context. */
  maxTokens: number | null;
  temperature: number;
  topP: number;
  topK: number;
  seed: number | null;
  stop: string[];
  /** Alternatives reported per sampled token (0: none; logprobs of the sampled tokens are always there). */
  topLogprobs: number;
  /** Request field that carries the length limit, for error messages (`max_tokens`, `max_completion_tokens`). */
  maxTokensField: string;
}

export interface GeneratedToken {
  id: number;
  text: string;
  logprob: number;
  top: Array<{ id: number; text: string; logprob: number }>;
}

export interface Completion {
  text: string;
  /** The sampled tokens that make up `text` (a dropped end-of-turn token is not among them). */
  tokens: GeneratedToken[];
  /** Every token the model generated, for usage. */
  generatedTokens: number;
  finish: 'stop' | 'length';
  /** The stop sequence that ended the completion, if one did. */
  stopSequence: string | null;
}

export interface Generation {
  promptTokens: number;
  completions: Completion[];
}

/** Tokenizers of the base models, fetched from the engine once per model. */
export class ModelTokenizers {
  private readonly loaded = new Map<string, Promise<Tokenizer>>();

  constructor(private readonly ctx: ServerContext) {}

  get(baseModel: string): Promise<Tokenizer> {
    let hit = this.loaded.get(baseModel);
    if (!hit) {
      const files = this.ctx.engine.tokenizerFiles;
      if (!files) return Promise.reject(new Error('this engine does not say where its tokenizers are'));
      hit = files.call(this.ctx.engine, baseModel).then((f) => Tokenizer.fromFiles(f));
      hit.catch(() => this.loaded.delete(baseModel));
      this.loaded.set(baseModel, hit);
    }
    return hit;
  }
}

/** Renders chat messages (roles already checked) into prompt tokens with the model's template. */
export function renderChatPrompt(tokenizer: Tokenizer, messages: ChatMessage[], templateVariables: Record<string, unknown>): number[] {
  if (!tokenizer.chatTemplate) throw new BadRequestError('this model has no chat template; use the completions endpoint with a plain prompt');
  return tokenizer.encodeChat(messages, { addGenerationPrompt: true, extra: templateVariables });
}

export function checkGenerationFits(ctx: ServerContext, model: ServedModel, req: GenerationRequest): void {
  const context = model.maxContextLength;
  if (req.prompt.length >= context) {
    throw new ContextLengthError(
      `This model's maximum context length is ${context} tokens, but the prompt has ${req.prompt.length} tokens`,
      'messages',
    );
  }
  if (req.maxTokens !== null && req.prompt.length + req.maxTokens > context) {
    throw new ContextLengthError(
      `This model's maximum context length is ${context} tokens; you requested ${req.prompt.length + req.maxTokens} tokens ` +
        `(${req.prompt.length} in the prompt, ${req.maxTokens} for the completion). Reduce the prompt or ${req.maxTokensField}`,
      req.maxTokensField,
    );
  }
  checkSampleCost(req.n, req.maxTokens ?? context - req.prompt.length, ctx.limits, req.maxTokens === null);
}

/** Samples `req.n` completions of `req.prompt` from `model` and decodes them. */
export async function generate(ctx: ServerContext, model: ServedModel, tokenizer: Tokenizer, req: GenerationRequest): Promise<Generation> {
  checkGenerationFits(ctx, model, req);
  model.recheck();
  let res: SampleResponse;
  try {
    res = await sampleOnEngine(ctx, model, req);
  } catch (err) {
    // The engine refusing the request (e.g. weights that do not fit the model) is the caller's to fix.
    if (err instanceof Error && err.name === 'EngineUserError') throw new BadRequestError(err.message);
    throw err;
  }
  return {
    promptTokens: req.prompt.length,
    completions: res.sequences.map((s) => toCompletion(tokenizer, s.tokens, s.logprobs ?? [], s.topk_logprobs ?? null, s.stop_reason, req.stop)),
  };
}

function sampleOnEngine(ctx: ServerContext, model: ServedModel, req: GenerationRequest): Promise<SampleResponse> {
  return ctx.engine.sample(model.source, {
    prompt: req.prompt,
    num_samples: req.n,
    sampling_params: {
      max_tokens: req.maxTokens,
      seed: req.seed,
      stop: req.stop.length > 0 ? req.stop : null,
      temperature: req.temperature,
      top_k: req.topK,
      top_p: req.topP,
    },
    prompt_logprobs: false,
    topk_prompt_logprobs: 0,
    topk_sample_logprobs: req.topLogprobs,
  });
}

function toCompletion(
  tokenizer: Tokenizer,
  ids: number[],
  logprobs: number[],
  topk: ([number, number][] | null)[] | null,
  stopReason: string,
  stops: string[],
): Completion {
  const decode = (list: number[]) => (list.length === 0 ? '' : tokenizer.decode(list));
  const full = decode(ids);
  let cut = -1;
  let stopSequence: string | null = null;
  for (const s of stops) {
    const at = full.indexOf(s);
    if (at >= 0 && (cut < 0 || at < cut)) {
      cut = at;
      stopSequence = s;
    }
  }
  let kept = ids.length;
  let text = full;
  if (cut >= 0) {
    text = full.slice(0, cut);
    // The tokens whose text starts before the stop sequence.
    kept = 0;
    while (kept < ids.length && decode(ids.slice(0, kept)).length < cut) kept++;
  } else if (stopReason === 'stop' && ids.length > 0) {
    // Ended by the model's end-of-turn token: it is not part of the reply.
    kept = ids.length - 1;
    text = decode(ids.slice(0, kept));
  }
  const tokenText = (id: number) => tokenizer.decode([id]);
  const tokens = ids.slice(0, kept).map((id, i) => ({
    id,
    text: tokenText(id),
    logprob: logprobs[i] ?? 0,
    top: (topk?.[i] ?? []).map(([tid, lp]) => ({ id: tid, text: tokenText(tid), logprob: lp })),
  }));
  return { text, tokens, generatedTokens: ids.length, finish: stopReason === 'stop' ? 'stop' : 'length', stopSequence };
}

/** A piece of a streamed completion: its text and the tokens it completes (`tokenEnd` exclusive). */
export interface TextPiece {
  text: string;
  tokenStart: number;
  tokenEnd: number;
}

/**
 * The completion's text in pieces, one per token where a token completes characters, for
 * streaming: the pieces join to exactly `completion.text` (bytes of a character split across
 * tokens go out with the token that completes it).
 */
export function textPieces(tokenizer: Tokenizer, completion: Completion): TextPiece[] {
  const pieces: TextPiece[] = [];
  const text = completion.text;
  const count = completion.tokens.length;
  let sent = 0;
  let tokenStart = 0;
  for (let i = 1; i <= count && sent < text.length; i++) {
    const prefix = tokenizer.decode(completion.tokens.slice(0, i).map((t) => t.id));
    if (prefix.endsWith('\uFFFD')) continue;
    let common = 0;
    const limit = Math.min(prefix.length, text.length);
    while (common < limit && prefix.charCodeAt(common) === text.charCodeAt(common)) common++;
    if (common > sent) {
      pieces.push({ text: text.slice(sent, common), tokenStart, tokenEnd: i });
      sent = common;
      tokenStart = i;
    }
  }
  if (sent < text.length || tokenStart < count) pieces.push({ text: text.slice(sent), tokenStart, tokenEnd: count });
  return pieces;
}
