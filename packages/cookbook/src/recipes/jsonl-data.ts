// The recipes' data files, one JSON object per line: conversations ({"messages": [...]}),
// preference pairs ({"prompt": [...], "chosen": ..., "rejected": ...}) and problems
// ({"prompt": ..., "answer": ...}). Every malformed line is refused with its line number.
import { readFileSync } from 'node:fs';
import { ValidationError } from '@tinker-ts/sdk';
import type { Message } from '../renderers/message.js';

const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'developer']);

function readJsonLines(file: string | URL): Array<{ value: unknown; where: string }> {
  const out: Array<{ value: unknown; where: string }> = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${String(file)} line ${i + 1}`;
      try {
        out.push({ value: JSON.parse(line), where });
      } catch (e) {
        throw new ValidationError(`${where}: not valid JSON (${(e as Error).message})`, { field: 'data' });
      }
    });
  return out;
}

function toMessage(value: unknown, where: string): Message {
  const m = value as Partial<Message> | null;
  if (!m || typeof m !== 'object' || typeof m.role !== 'string' || !ROLES.has(m.role) || typeof m.content !== 'string') {
    throw new ValidationError(`${where}: a message needs a role (${[...ROLES].join(', ')}) and string content`, { field: 'data' });
  }
  return m as Message;
}

function toMessages(value: unknown, where: string): Message[] {
  if (typeof value === 'string') return [{ role: 'user', content: value }];
  if (!Array.isArray(value) || value.length === 0) throw new ValidationError(`${where}: expected a non-empty list of messages`, { field: 'data' });
  return value.map((m) => toMessage(m, where));
}

/** Conversations for supervised training: each line {"messages": [{"role", "content"}, ...]}. */
export function readConversations(file: string | URL): Message[][] {
  return readJsonLines(file).map(({ value, where }) => {
    const messages = (value as { messages?: unknown } | null)?.messages;
    if (!Array.isArray(messages) || messages.length < 2) {
      throw new ValidationError(`${where}: expected {"messages": [...]} with at least two messages`, { field: 'data' });
    }
    return toMessages(messages, where);
  });
}

export interface PreferencePair {
  /** The conversation so far, ending before the model's reply. */
  prompt: Message[];
  chosen: Message;
  rejected: Message;
}

/** Preference pairs for DPO: each line {"prompt": [...] | "text", "chosen": message | "text", "rejected": message | "text"}. */
export function readPreferencePairs(file: string | URL): PreferencePair[] {
  return readJsonLines(file).map(({ value, where }) => {
    const v = (value ?? {}) as { prompt?: unknown; chosen?: unknown; rejected?: unknown };
    const reply = (x: unknown, name: string): Message => {
      if (x === undefined) throw new ValidationError(`${where}: missing "${name}"`, { field: 'data' });
      const m = typeof x === 'string' ? { role: 'assistant' as const, content: x } : toMessage(x, where);
      if (m.role !== 'assistant') throw new ValidationError(`${where}: "${name}" must be the assistant's reply`, { field: 'data' });
      return m;
    };
    return { prompt: toMessages(v.prompt, where), chosen: reply(v.chosen, 'chosen'), rejected: reply(v.rejected, 'rejected') };
  });
}

export interface Problem {
  /** The conversation the model answers. */
  prompt: Message[];
  /** What the reward compares the reply with. */
  answer: string;
}

/** Problems for RL: each line {"prompt": [...] | "text", "answer": "text"}, or a conversation whose last assistant message is the answer. */
export function readProblems(file: string | URL): Problem[] {
  return readJsonLines(file).map(({ value, where }) => {
    const v = (value ?? {}) as { prompt?: unknown; answer?: unknown; messages?: unknown };
    if (v.messages !== undefined) {
      const messages = toMessages(v.messages, where);
      const last = messages[messages.length - 1]!;
      if (last.role !== 'assistant' || messages.length < 2) throw new ValidationError(`${where}: the last message must be the assistant's answer`, { field: 'data' });
      return { prompt: messages.slice(0, -1), answer: last.content };
    }
    if (typeof v.answer !== 'string') throw new ValidationError(`${where}: expected {"prompt", "answer"} with a string answer`, { field: 'data' });
    return { prompt: toMessages(v.prompt, where), answer: v.answer };
  });
}

/** The prompts of conversations: each one up to (without) its last assistant message. */
export function promptsOf(conversations: readonly Message[][]): Message[][] {
  return conversations.map((c) => (c[c.length - 1]?.role === 'assistant' ? c.slice(0, -1) : [...c]));
}

/** Prompts: each line {"prompt": [...] | "text"}, or {"messages": [...]} (a final assistant reply is dropped). */
export function readPrompts(file: string | URL): Message[][] {
  return readJsonLines(file).map(({ value, where }) => {
    const v = (value ?? {}) as { prompt?: unknown; messages?: unknown };
    const messages = toMessages(v.messages ?? v.prompt, where);
    const prompt = messages[messages.length - 1]!.role === 'assistant' ? messages.slice(0, -1) : messages;
    if (prompt.length === 0) throw new ValidationError(`${where}: the prompt has no message before the reply`, { field: 'data' });
    return prompt;
  });
}
