// Chat conversations as training data, with the Tinker cookbook's conventions: the model reads
// tokens[:-1] and predicts tokens[1:]; weights are 0 on the prompt and 1 on the completion.
import { readFileSync } from 'node:fs';
import { Datum, type ChatMessage, type Tokenizer } from '@tinker-ts/sdk';

export interface Conversation {
  messages: ChatMessage[];
}

/** Template variables every example renders with (Qwen3: answer directly, no thinking block to fill). */
export const CHAT_VARIABLES: Readonly<Record<string, unknown>> = Object.freeze({ enable_thinking: false });

/** One conversation per line: `{"messages": [{"role": ..., "content": ...}, ...]}`. */
export function readConversations(file: string | URL): Conversation[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Conversation[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      throw new Error(`${String(file)} line ${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const messages = (parsed as { messages?: unknown }).messages;
    if (!Array.isArray(messages) || messages.length < 2 || messages.some((m) => typeof m?.role !== 'string' || typeof m?.content !== 'string')) {
      throw new Error(`${String(file)} line ${i + 1}: expected {"messages": [{"role", "content"}, ...]} with at least two messages`);
    }
    if (messages[messages.length - 1].role !== 'assistant') {
      throw new Error(`${String(file)} line ${i + 1}: the last message must be the assistant's reply`);
    }
    out.push({ messages: messages as ChatMessage[] });
  });
  return out;
}

/** The conversation without its final reply, ending where the model starts writing. */
export function promptTokens(tokenizer: Tokenizer, messages: readonly ChatMessage[]): number[] {
  const context = messages[messages.length - 1]?.role === 'assistant' ? messages.slice(0, -1) : messages;
  return tokenizer.encodeChat(context, { addGenerationPrompt: true, variables: { ...CHAT_VARIABLES } });
}

export interface RenderedConversation {
  tokens: number[];
  /** Tokens before the final reply. */
  promptLength: number;
}

/** The whole conversation as the chat template renders it, and where the final reply starts. */
export function renderConversation(tokenizer: Tokenizer, messages: readonly ChatMessage[]): RenderedConversation {
  const tokens = tokenizer.encodeChat(messages, { variables: { ...CHAT_VARIABLES } });
  const prompt = promptTokens(tokenizer, messages);
  if (prompt.length >= tokens.length || prompt.some((t, i) => tokens[i] !== t)) {
    throw new Error('the chat template renders the prompt differently inside the full conversation; cannot tell where the reply starts');
  }
  return { tokens, promptLength: prompt.length };
}

/** A next-token datum training on the final assistant reply only. */
export function conversationToDatum(tokenizer: Tokenizer, messages: readonly ChatMessage[], maxLength = 4096): Datum {
  const { tokens, promptLength } = renderConversation(tokenizer, messages);
  const kept = tokens.slice(0, maxLength + 1);
  return Datum.fromTokens(kept, kept.map((_, i) => (i >= promptLength ? 1 : 0)));
}

/** Σ of a datum's weights: the number of tokens its loss counts. */
export function weightSum(data: readonly Datum[]): number {
  let sum = 0;
  for (const d of data) {
    const w = d.lossFnInputs['weights'];
    if (w) for (const x of w.toArray()) sum += x;
  }
  return sum;
}

/** Input tokens of a batch, for throughput. */
export function tokenCount(data: readonly Datum[]): number {
  return data.reduce((n, d) => n + d.modelInput.length, 0);
}
