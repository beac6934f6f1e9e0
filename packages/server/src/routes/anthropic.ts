/**
 * Anthropic-compatible endpoints, at the paths hosted Tinker serves them: `POST
 * /anthropic/api/v1/messages` and `POST /anthropic/api/v1/messages/count_tokens`. `model` names
 * a base model or a sampler checkpoint as on the OpenAI-compatible endpoints; the key comes in
 * `x-api-key`, as Anthropic clients send it. Streaming sends the events in the order the
 * Anthropic SDK assembles a message from (message_start, content_block_start, ping,
 * content_block_delta…, content_block_stop, message_delta, message_stop). Errors have
 * Anthropic's shape, `{type: "error", error: {type, message}}`.
 */
import { randomUUID } from 'node:crypto';
import type { ChatMessage, Tokenizer } from '@tinker-ts/engine';
import type { ServerContext } from '../context.js';
import { resolveServedModel } from '../domain/served-models.js';
import { generate, ModelTokenizers, renderChatPrompt, textPieces, type Completion } from '../domain/text-generation.js';
import { BadRequestError } from '../errors.js';
import { defineRoute, json, type Route, type RouteError } from '../router.js';
import { BodyFields, isObject } from './body-fields.js';
import { eventStream } from './server-sent-events.js';

export const ANTHROPIC_PREFIX = '/anthropic/api/v1';

const MAX_STOP_SEQUENCES = 16;

export function anthropicErrorBody(err: RouteError): unknown {
  const type =
    err.status === 401 ? 'authentication_error'
    : err.status === 403 ? 'permission_error'
    : err.status === 404 ? 'not_found_error'
    : err.status === 413 ? 'request_too_large'
    : err.status < 500 ? 'invalid_request_error'
    : 'api_error';
  return { type: 'error', error: { type, message: err.field ? `${err.field}: ${err.message}` : err.message } };
}

const PROMPT_FIELDS = ['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking'] as const;
const MESSAGE_FIELDS = [
  ...PROMPT_FIELDS, 'max_tokens', 'stop_sequences', 'temperature', 'top_p', 'top_k', 'stream', 'metadata', 'service_tier',
];

function blocksText(content: unknown, field: string): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((block, i) => {
        if (!isObject(block) || block.type !== 'text' || typeof block.text !== 'string') {
          const type = isObject(block) ? JSON.stringify(block.type) : 'a non-object';
          throw new BadRequestError(`${field}.${i}: only text content blocks are supported, got ${type}`, { field: `${field}.${i}` });
        }
        return block.text;
      })
      .join('');
  }
  throw new BadRequestError(`${field}: must be a string or a list of text blocks`, { field });
}

interface AnthropicPrompt {
  messages: ChatMessage[];
  /** A last assistant turn the reply continues (Anthropic's prefill), else ''. */
  prefill: string;
  variables: Record<string, unknown>;
}

function readPrompt(f: BodyFields): AnthropicPrompt {
  f.unsupported('tools', 'tool use is not implemented', (v) => Array.isArray(v) && v.length === 0);
  f.unsupported('tool_choice', "tool use is not implemented; send {type: 'none'} or leave it out", (v) => isObject(v) && v.type === 'none');
  const value = f.body.messages;
  if (!Array.isArray(value) || value.length === 0) throw new BadRequestError('messages: must be a non-empty list', { field: 'messages' });
  const messages: ChatMessage[] = [];
  if (f.has('system')) messages.push({ role: 'system', content: blocksText(f.body.system, 'system') });
  value.forEach((m, i) => {
    const field = `messages.${i}`;
    if (!isObject(m)) throw new BadRequestError(`${field}: must be an object`, { field });
    if (m.role !== 'user' && m.role !== 'assistant') {
      throw new BadRequestError(`${field}.role: Input should be 'user' or 'assistant', got ${JSON.stringify(m.role)}`, { field: `${field}.role` });
    }
    messages.push({ role: m.role, content: blocksText(m.content, `${field}.content`) });
  });
  let prefill = '';
  if (messages[messages.length - 1]!.role === 'assistant') prefill = messages.pop()!.content;
  if (!messages.some((m) => m.role === 'user')) throw new BadRequestError('messages: the conversation needs a user turn', { field: 'messages' });
  const variables: Record<string, unknown> = {};
  const thinking = f.object('thinking');
  if (thinking) {
    if (thinking.type !== 'enabled' && thinking.type !== 'disabled') {
      throw new BadRequestError("thinking.type: must be 'enabled' or 'disabled'", { field: 'thinking.type' });
    }
    variables.enable_thinking = thinking.type === 'enabled';
  }
  return { messages, prefill, variables };
}

function promptTokens(tokenizer: Tokenizer, p: AnthropicPrompt): number[] {
  const tokens = renderChatPrompt(tokenizer, p.messages, p.variables);
  return p.prefill ? [...tokens, ...tokenizer.encode(p.prefill)] : tokens;
}

function stopReasonOf(c: Completion): 'end_turn' | 'max_tokens' | 'stop_sequence' {
  if (c.stopSequence !== null) return 'stop_sequence';
  return c.finish === 'stop' ? 'end_turn' : 'max_tokens';
}

export function anthropicRoutes(ctx: ServerContext): Route[] {
  const tokenizers = new ModelTokenizers(ctx);
  return [
    defineRoute({
      method: 'POST',
      path: `${ANTHROPIC_PREFIX}/messages`,
      bodyLimit: 'data',
      errorBody: anthropicErrorBody,
      body: (v) => new BodyFields(v, MESSAGE_FIELDS, 'messages'),
      handler: async ({ user, body: f }) => {
        const modelName = f.requiredString('model');
        const maxTokens = f.integer('max_tokens', 1, Number.MAX_SAFE_INTEGER);
        if (maxTokens === null) throw new BadRequestError('max_tokens: Field required', { field: 'max_tokens' });
        const prompt = readPrompt(f);
        const stop = f.strings('stop_sequences', MAX_STOP_SEQUENCES);
        const temperature = f.number('temperature', 1, 0, 1);
        const topP = f.number('top_p', 1, 0, 1, { minExclusive: true });
        const topK = f.integer('top_k', 1, Number.MAX_SAFE_INTEGER) ?? -1;
        const stream = f.bool('stream', false);
        const model = resolveServedModel(ctx, user, modelName);
        const tokenizer = await tokenizers.get(model.baseModel);
        const tokens = promptTokens(tokenizer, prompt);
        const generation = await generate(ctx, model, tokenizer, {
          prompt: tokens, n: 1, maxTokens, temperature, topP, topK, seed: null, stop, topLogprobs: 0, maxTokensField: 'max_tokens',
        });
        const c = generation.completions[0]!;
        const id = `msg_${randomUUID().replace(/-/g, '')}`;
        const usage = { input_tokens: generation.promptTokens, output_tokens: c.generatedTokens };
        if (!stream) {
          return json({
            id, type: 'message', role: 'assistant', model: model.name,
            content: [{ type: 'text', text: c.text }],
            stop_reason: stopReasonOf(c), stop_sequence: c.stopSequence, usage,
          });
        }
        return eventStream((out) => {
          out.send({
            type: 'message_start',
            message: {
              id, type: 'message', role: 'assistant', model: model.name, content: [], stop_reason: null, stop_sequence: null,
              usage: { input_tokens: usage.input_tokens, output_tokens: 0 },
            },
          }, 'message_start');
          out.send({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start');
          out.send({ type: 'ping' }, 'ping');
          for (const piece of textPieces(tokenizer, c)) {
            if (piece.text.length === 0) continue;
            out.send({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece.text } }, 'content_block_delta');
          }
          out.send({ type: 'content_block_stop', index: 0 }, 'content_block_stop');
          out.send({
            type: 'message_delta',
            delta: { stop_reason: stopReasonOf(c), stop_sequence: c.stopSequence },
            usage: { output_tokens: usage.output_tokens },
          }, 'message_delta');
          out.send({ type: 'message_stop' }, 'message_stop');
        });
      },
    }),

    defineRoute({
      method: 'POST',
      path: `${ANTHROPIC_PREFIX}/messages/count_tokens`,
      bodyLimit: 'data',
      errorBody: anthropicErrorBody,
      body: (v) => new BodyFields(v, PROMPT_FIELDS, 'messages/count_tokens'),
      handler: async ({ user, body: f }) => {
        const modelName = f.requiredString('model');
        const prompt = readPrompt(f);
        const model = resolveServedModel(ctx, user, modelName);
        const tokenizer = await tokenizers.get(model.baseModel);
        return json({ input_tokens: promptTokens(tokenizer, prompt).length });
      },
    }),
  ];
}
