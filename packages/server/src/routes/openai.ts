/**
 * OpenAI-compatible endpoints, at the paths hosted Tinker serves them: `POST
 * /oai/api/v1/chat/completions`, `POST /oai/api/v1/completions`, `GET /oai/api/v1/models`.
 * `model` is a base model, a `tinker://…/sampler_weights/…` checkpoint, or `<base>;<path>`
 * (see domain/served-models.ts). Authentication is the Tinker API's (the key as
 * `Authorization: Bearer`, as OpenAI clients send it, or `X-API-Key`), and so is tenancy.
 * Errors have OpenAI's shape, `{error: {message, type, param, code}}`, so OpenAI clients raise
 * their own error classes with the message.
 */
import { randomUUID } from 'node:crypto';
import type { ChatMessage, Tokenizer } from '@tinker-ts/engine';
import type { ServerContext } from '../context.js';
import { listServedModels, resolveServedModel, type ServedModel } from '../domain/served-models.js';
import {
  generate,
  ModelTokenizers,
  renderChatPrompt,
  textPieces,
  type Completion,
  type GeneratedToken,
  type Generation,
  type GenerationRequest,
} from '../domain/text-generation.js';
import { BadRequestError } from '../errors.js';
import { defineRoute, json, type Route, type RouteError } from '../router.js';
import { BodyFields, isObject } from './body-fields.js';
import { eventStream } from './server-sent-events.js';

export const OPENAI_PREFIX = '/oai/api/v1';

const MAX_N = 128;
const MAX_TOP_LOGPROBS = 20;
const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

/** OpenAI's error body for one of our error answers. */
export function openAIErrorBody(err: RouteError): unknown {
  const type =
    err.status === 401 ? 'authentication_error' : err.status === 404 ? 'invalid_request_error' : err.status < 500 ? 'invalid_request_error' : 'server_error';
  const code = err.status === 401 ? 'invalid_api_key' : err.status === 404 && err.code === 'not_found' ? 'model_not_found' : err.code;
  return { error: { message: err.message, type, param: err.field ?? null, code } };
}

/** Options every OpenAI generation request shares. */
const SAMPLING_FIELDS = [
  'model', 'max_tokens', 'temperature', 'top_p', 'top_k', 'n', 'stop', 'seed', 'stream', 'stream_options', 'user',
  'presence_penalty', 'frequency_penalty', 'logit_bias',
] as const;

const CHAT_FIELDS = [
  ...SAMPLING_FIELDS, 'messages', 'max_completion_tokens', 'logprobs', 'top_logprobs', 'metadata', 'store', 'service_tier',
  'chat_template_kwargs', 'enable_thinking', 'tools', 'tool_choice', 'functions', 'function_call', 'parallel_tool_calls',
  'response_format', 'modalities', 'audio', 'prediction', 'reasoning_effort', 'web_search_options',
];

const COMPLETION_FIELDS = [...SAMPLING_FIELDS, 'prompt', 'logprobs', 'echo', 'suffix', 'best_of'];

interface StreamOptions {
  stream: boolean;
  includeUsage: boolean;
}

function readStreamOptions(f: BodyFields): StreamOptions {
  const stream = f.bool('stream', false);
  const opts = f.object('stream_options');
  if (opts && !stream) throw new BadRequestError('stream_options is only allowed with stream: true', { field: 'stream_options' });
  const include = opts?.include_usage;
  if (include !== undefined && typeof include !== 'boolean') throw new BadRequestError('stream_options.include_usage must be true or false', { field: 'stream_options.include_usage' });
  return { stream, includeUsage: include === true };
}

/** The sampling options both endpoints read; `prompt` is filled in by the caller. */
function readSampling(f: BodyFields, maxTokensField: string, topLogprobs: number): Omit<GenerationRequest, 'prompt'> {
  const neutralZero = (v: unknown) => v === 0;
  f.unsupported('presence_penalty', 'send 0 or leave it out', neutralZero);
  f.unsupported('frequency_penalty', 'send 0 or leave it out', neutralZero);
  f.unsupported('logit_bias', 'leave it out', (v) => isObject(v) && Object.keys(v).length === 0);
  return {
    n: f.integer('n', 1, MAX_N) ?? 1,
    maxTokens: f.integer(maxTokensField, 1, Number.MAX_SAFE_INTEGER),
    temperature: f.number('temperature', 1, 0, 2),
    topP: f.number('top_p', 1, 0, 1, { minExclusive: true }),
    topK: f.integer('top_k', -1, Number.MAX_SAFE_INTEGER) ?? -1,
    seed: f.integer('seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    stop: f.strings('stop', 4),
    topLogprobs,
    maxTokensField,
  };
}

function messageText(content: unknown, field: string): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    return content
      .map((part, i) => {
        if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') {
          const type = isObject(part) ? JSON.stringify(part.type) : 'a non-object';
          throw new BadRequestError(`${field}[${i}]: only text content parts are supported, got ${type}`, { field: `${field}[${i}]` });
        }
        return part.text;
      })
      .join('');
  }
  throw new BadRequestError(`${field} must be a string or a list of text parts`, { field });
}

function readChatMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) throw new BadRequestError('messages must be a non-empty list', { field: 'messages' });
  return value.map((m, i): ChatMessage => {
    const field = `messages[${i}]`;
    if (!isObject(m)) throw new BadRequestError(`${field} must be an object`, { field });
    const role = m.role;
    if (typeof role !== 'string' || !(CHAT_ROLES as readonly string[]).includes(role)) {
      throw new BadRequestError(
        `Invalid value for '${field}.role': ${typeof role === 'string' ? `'${role}'` : JSON.stringify(role)}. Supported values are: ${CHAT_ROLES.map((r) => `'${r}'`).join(', ')}`,
        { field: `${field}.role` },
      );
    }
    if (m.tool_calls !== undefined && m.tool_calls !== null) {
      throw new BadRequestError(`${field}.tool_calls is not supported by this server (tool calling is not implemented)`, { field: `${field}.tool_calls` });
    }
    const message: ChatMessage = { role: role === 'developer' ? 'system' : role, content: messageText(m.content, `${field}.content`) };
    if (typeof m.name === 'string') message.name = m.name;
    if (typeof m.tool_call_id === 'string') message.tool_call_id = m.tool_call_id;
    return message;
  });
}

function usageOf(g: Generation) {
  const completion = g.completions.reduce((sum, c) => sum + c.generatedTokens, 0);
  return { prompt_tokens: g.promptTokens, completion_tokens: completion, total_tokens: g.promptTokens + completion };
}

function chatLogprob(t: GeneratedToken) {
  const bytes = (s: string) => [...Buffer.from(s, 'utf8')];
  return {
    token: t.text,
    logprob: t.logprob,
    bytes: bytes(t.text),
    top_logprobs: t.top.map((a) => ({ token: a.text, logprob: a.logprob, bytes: bytes(a.text) })),
  };
}

function legacyLogprobs(tokens: GeneratedToken[], offset: number) {
  const textOffset: number[] = [];
  let at = offset;
  for (const t of tokens) {
    textOffset.push(at);
    at += t.text.length;
  }
  return {
    tokens: tokens.map((t) => t.text),
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: tokens.map((t) => Object.fromEntries(t.top.map((a) => [a.text, a.logprob]))),
    text_offset: textOffset,
  };
}

export function openAIRoutes(ctx: ServerContext): Route[] {
  const tokenizers = new ModelTokenizers(ctx);
  const nowSeconds = () => Math.floor(ctx.clock() / 1000);

  async function run(user: string, modelName: string, build: (model: ServedModel, tokenizer: Tokenizer) => number[], sampling: Omit<GenerationRequest, 'prompt'>) {
    const model = resolveServedModel(ctx, user, modelName);
    const tokenizer = await tokenizers.get(model.baseModel);
    const prompt = build(model, tokenizer);
    const generation = await generate(ctx, model, tokenizer, { ...sampling, prompt });
    return { model, tokenizer, generation };
  }

  return [
    defineRoute({
      method: 'GET',
      path: `${OPENAI_PREFIX}/models`,
      errorBody: openAIErrorBody,
      handler: ({ user }) =>
        json({
          object: 'list',
          data: listServedModels(ctx, user).map((m) => ({ id: m.id, object: 'model', created: m.createdAt, owned_by: m.ownedBy })),
        }),
    }),

    defineRoute({
      method: 'POST',
      path: `${OPENAI_PREFIX}/chat/completions`,
      bodyLimit: 'data',
      errorBody: openAIErrorBody,
      body: (v) => new BodyFields(v, CHAT_FIELDS, 'chat/completions'),
      handler: async ({ user, body: f }) => {
        const modelName = f.requiredString('model');
        f.unsupported('tools', 'tool calling is not implemented', (v) => Array.isArray(v) && v.length === 0);
        f.unsupported('tool_choice', "tool calling is not implemented; send 'none' or leave it out", (v) => v === 'none');
        f.unsupported('functions', 'function calling is not implemented');
        f.unsupported('function_call', "function calling is not implemented; send 'none' or leave it out", (v) => v === 'none');
        f.unsupported('parallel_tool_calls', 'tool calling is not implemented', () => true);
        f.unsupported('response_format', "structured output is not implemented; send {type: 'text'} or leave it out", (v) => isObject(v) && v.type === 'text');
        f.unsupported('modalities', "only text output is supported; send ['text']", (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text');
        f.unsupported('audio', 'audio output is not supported');
        f.unsupported('prediction', 'predicted outputs are not supported');
        f.unsupported('web_search_options', 'web search is not supported');
        f.unsupported('reasoning_effort', "use chat_template_kwargs: {enable_thinking: …} where the model's template reads it");
        if (f.has('max_tokens') && f.has('max_completion_tokens')) {
          throw new BadRequestError('send max_tokens or max_completion_tokens, not both', { field: 'max_completion_tokens' });
        }
        const maxField = f.has('max_completion_tokens') ? 'max_completion_tokens' : 'max_tokens';
        const logprobs = f.bool('logprobs', false);
        const topLogprobs = f.integer('top_logprobs', 0, MAX_TOP_LOGPROBS);
        if (topLogprobs !== null && !logprobs) throw new BadRequestError('top_logprobs needs logprobs: true', { field: 'top_logprobs' });
        const sampling = readSampling(f, maxField, topLogprobs ?? 0);
        const streamOpts = readStreamOptions(f);
        const messages = readChatMessages(f.body.messages);
        const variables: Record<string, unknown> = { ...(f.object('chat_template_kwargs') ?? {}) };
        if (f.has('enable_thinking')) variables.enable_thinking = f.bool('enable_thinking', false);

        const { model, tokenizer, generation } = await run(user, modelName, (_m, tok) => renderChatPrompt(tok, messages, variables), sampling);
        const id = `chatcmpl-${randomUUID()}`;
        const created = nowSeconds();
        const usage = usageOf(generation);
        if (!streamOpts.stream) {
          return json({
            id,
            object: 'chat.completion',
            created,
            model: model.name,
            choices: generation.completions.map((c, index) => ({
              index,
              message: { role: 'assistant', content: c.text, refusal: null },
              logprobs: logprobs ? { content: c.tokens.map(chatLogprob), refusal: null } : null,
              finish_reason: c.finish,
            })),
            usage,
          });
        }
        const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
          id, object: 'chat.completion.chunk', created, model: model.name, choices, ...(streamOpts.includeUsage ? { usage: null } : {}), ...extra,
        });
        return eventStream((out) => {
          generation.completions.forEach((c: Completion, index) => {
            out.send(chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
            for (const piece of textPieces(tokenizer, c)) {
              const lp = logprobs ? { content: c.tokens.slice(piece.tokenStart, piece.tokenEnd).map(chatLogprob), refusal: null } : null;
              out.send(chunk([{ index, delta: { content: piece.text }, logprobs: lp, finish_reason: null }]));
            }
            out.send(chunk([{ index, delta: {}, logprobs: null, finish_reason: c.finish }]));
          });
          if (streamOpts.includeUsage) out.send(chunk([], { usage }));
          out.sendText('[DONE]');
        });
      },
    }),

    defineRoute({
      method: 'POST',
      path: `${OPENAI_PREFIX}/completions`,
      bodyLimit: 'data',
      errorBody: openAIErrorBody,
      body: (v) => new BodyFields(v, COMPLETION_FIELDS, 'completions'),
      handler: async ({ user, body: f }) => {
        const modelName = f.requiredString('model');
        f.unsupported('suffix', 'insertion is not supported');
        f.unsupported('echo', 'send false', (v) => v === false);
        const logprobs = f.integer('logprobs', 0, 5);
        const sampling = readSampling(f, 'max_tokens', logprobs ?? 0);
        // OpenAI's default for this endpoint.
        if (!f.has('max_tokens')) sampling.maxTokens = 16;
        const bestOf = f.integer('best_of', 1, MAX_N);
        if (bestOf !== null && bestOf !== sampling.n) throw new BadRequestError('best_of other than n is not supported', { field: 'best_of' });
        const streamOpts = readStreamOptions(f);
        const promptValue = f.body.prompt;
        const prompt = (tokenizer: Tokenizer): number[] => {
          const one = Array.isArray(promptValue) && promptValue.length === 1 ? promptValue[0] : promptValue;
          if (typeof one === 'string') {
            if (one.length === 0) throw new BadRequestError('prompt is empty', { field: 'prompt' });
            return tokenizer.encode(one, { addSpecialTokens: true });
          }
          if (Array.isArray(one) && one.length > 0 && one.every((t) => Number.isInteger(t) && t >= 0 && t < tokenizer.vocabSize)) return one as number[];
          throw new BadRequestError(
            `prompt must be a non-empty string or a list of token ids in [0, ${tokenizer.vocabSize}) (one prompt per request)`,
            { field: 'prompt' },
          );
        };
        const { model, tokenizer, generation } = await run(user, modelName, (_m, tok) => prompt(tok), sampling);
        const id = `cmpl-${randomUUID()}`;
        const created = nowSeconds();
        const usage = usageOf(generation);
        if (!streamOpts.stream) {
          return json({
            id,
            object: 'text_completion',
            created,
            model: model.name,
            choices: generation.completions.map((c, index) => ({
              index,
              text: c.text,
              logprobs: logprobs !== null ? legacyLogprobs(c.tokens, 0) : null,
              finish_reason: c.finish,
            })),
            usage,
          });
        }
        const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
          id, object: 'text_completion', created, model: model.name, choices, ...(streamOpts.includeUsage ? { usage: null } : {}), ...extra,
        });
        return eventStream((out) => {
          generation.completions.forEach((c, index) => {
            let offset = 0;
            for (const piece of textPieces(tokenizer, c)) {
              const lp = logprobs !== null ? legacyLogprobs(c.tokens.slice(piece.tokenStart, piece.tokenEnd), offset) : null;
              out.send(chunk([{ index, text: piece.text, logprobs: lp, finish_reason: null }]));
              offset += piece.text.length;
            }
            out.send(chunk([{ index, text: '', logprobs: null, finish_reason: c.finish }]));
          });
          if (streamOpts.includeUsage) out.send(chunk([], { usage }));
          out.sendText('[DONE]');
        });
      },
    }),
  ];
}
