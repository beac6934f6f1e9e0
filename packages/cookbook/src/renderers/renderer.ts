// A renderer turns a conversation into the tokens a model reads, with per-token weights for
// supervised training, and turns sampled tokens back into a message. Each chat format writes its
// conversation as segments (header, completion, trailer of each message) in `render`; this base
// tokenizes them one by one, so the header of the next turn is also the generation prompt.
import { ValidationError, type Tokenizer } from '@tinker-ts/sdk';
import type { Message, ToolSpec } from './message.js';
import { isTrainedMessage, type TrainOnWhat } from './train-on-what.js';

/**
 * One piece of rendered text. `completion` is what the model writes for a message (content, its
 * end-of-turn token); `header` and `trailer` are the format's framing around it.
 */
export interface Segment {
  text: string;
  /** Index in the messages, or -1 for text that belongs to no message (BOS, a tools preamble). */
  message: number;
  part: 'header' | 'completion' | 'trailer';
}

export interface RenderOptions {
  /** Tools the model may call, rendered where the format puts them (usually the system turn). */
  tools?: readonly ToolSpec[];
}

export interface SupervisedExample {
  tokens: number[];
  /** One weight per token: 1 where the loss counts the token, 0 elsewhere. */
  weights: number[];
}

export interface ParsedResponse {
  message: Message;
  /** False when the response ran out of tokens before a stop token, or did not parse. */
  ok: boolean;
}

export abstract class Renderer {
  abstract readonly name: string;

  constructor(readonly tokenizer: Tokenizer) {}

  /** The conversation's segments, in order; `forGeneration` when the next turn is the model's. */
  protected abstract render(messages: readonly Message[], opts: RenderOptions, forGeneration: boolean): Segment[];

  /** The header that starts the model's turn (after `render(..., true)`). */
  protected abstract generationHeader(messages: readonly Message[]): string;

  /** What ends the model's turn, as the sampler's `stop`: token ids, or strings for text formats. */
  abstract stopSequences(): number[] | string[];

  /** The sampled tokens (up to and including a stop token) as an assistant message. */
  abstract parseResponse(tokens: readonly number[]): ParsedResponse;

  /** The rendered text, for inspection: what `buildSupervisedExample` tokenizes. */
  renderText(messages: readonly Message[], opts: RenderOptions = {}): string {
    return this.render(messages, opts, false).map((s) => s.text).join('');
  }

  /** The text of `buildGenerationPrompt`. */
  renderGenerationText(messages: readonly Message[], opts: RenderOptions = {}): string {
    return this.render(messages, opts, true).map((s) => s.text).join('') + this.generationHeader(messages);
  }

  /** Tokens of the conversation followed by the header of the model's turn: what to sample from. */
  buildGenerationPrompt(messages: readonly Message[], opts: RenderOptions = {}): number[] {
    const tokens = this.encodeSegments(this.render(messages, opts, true)).tokens;
    tokens.push(...this.encode(this.generationHeader(messages)));
    return tokens;
  }

  /** Tokens of the whole conversation, weighted by `trainOnWhat` (default: the last assistant message). */
  buildSupervisedExample(
    messages: readonly Message[],
    opts: RenderOptions & { trainOnWhat?: TrainOnWhat } = {},
  ): SupervisedExample {
    const what = opts.trainOnWhat ?? 'last_assistant_message';
    if (messages.length === 0) throw new ValidationError('a supervised example needs at least one message', { field: 'messages' });
    if (what === 'last_assistant_message' && messages[messages.length - 1]!.role !== 'assistant') {
      throw new ValidationError(`the last message must be the assistant's to train on it, got role ${JSON.stringify(messages[messages.length - 1]!.role)}`, {
        field: 'messages',
      });
    }
    const segments = this.render(messages, opts, false);
    const { tokens, segmentOf } = this.encodeSegments(segments);
    const weights = segmentOf.map((i) => {
      const s = segments[i]!;
      if (what === 'all_tokens') return 1;
      return s.part === 'completion' && s.message >= 0 && isTrainedMessage(messages, s.message, what) ? 1 : 0;
    });
    return { tokens, weights };
  }

  protected encode(text: string): number[] {
    return text === '' ? [] : this.tokenizer.encode(text, { addSpecialTokens: false });
  }

  /** A special token's id; the format cannot be rendered without it. */
  protected tokenId(text: string): number {
    const ids = this.encode(text);
    if (ids.length !== 1) throw new ValidationError(`the tokenizer from ${this.tokenizer.source} has no single token for ${text}`, { field: 'tokenizer' });
    return ids[0]!;
  }

  private encodeSegments(segments: readonly Segment[]): { tokens: number[]; segmentOf: number[] } {
    const tokens: number[] = [];
    const segmentOf: number[] = [];
    segments.forEach((s, i) => {
      for (const t of this.encode(s.text)) {
        tokens.push(t);
        segmentOf.push(i);
      }
    });
    return { tokens, segmentOf };
  }
}

/** The tokens before the first stop token, and whether one was there. */
export function untilStop(tokens: readonly number[], stops: readonly number[]): { body: number[]; stopped: boolean } {
  const at = tokens.findIndex((t) => stops.includes(t));
  return at < 0 ? { body: [...tokens], stopped: false } : { body: tokens.slice(0, at), stopped: true };
}

/** JSON as Python's json.dumps writes it (", " and ": " separators), which the chat templates' tojson follow. */
export function pythonJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`).join(', ')}}`;
}
