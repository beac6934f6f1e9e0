// The demo task shipped in examples/data: classify a short request into one of four intents and
// reply with JSON only, e.g. `{"intent": "timer"}`. The held-out set uses cities, numbers, genres,
// artists and dishes the training set never shows, so a match there is not memorisation.
import type { Conversation } from './conversations.js';

export const INTENTS = ['weather', 'timer', 'music', 'recipe'] as const;
export type Intent = (typeof INTENTS)[number];

export const INTENT_TRAIN_FILE = new URL('../data/intents-train.jsonl', import.meta.url);
export const INTENT_HELDOUT_FILE = new URL('../data/intents-heldout.jsonl', import.meta.url);

export interface ReplyGrade {
  /** The reply is exactly a JSON object {"intent": <one of INTENTS>}. */
  formatOk: boolean;
  /** ... and names the expected intent. */
  correct: boolean;
}

export function gradeReply(reply: string, expected: string): ReplyGrade {
  let parsed: unknown;
  try {
    parsed = JSON.parse(reply.trim());
  } catch {
    return { formatOk: false, correct: false };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return { formatOk: false, correct: false };
  const keys = Object.keys(parsed);
  const intent = (parsed as { intent?: unknown }).intent;
  const formatOk = keys.length === 1 && typeof intent === 'string' && (INTENTS as readonly string[]).includes(intent);
  return { formatOk, correct: formatOk && intent === expected };
}

/** The intent a conversation's reference reply names. */
export function expectedIntent(c: Conversation): string {
  const reply = c.messages[c.messages.length - 1]!.content;
  return (JSON.parse(reply) as { intent: string }).intent;
}

/** The reference reply for an intent, exactly as the training data writes it. */
export function intentReply(intent: string): string {
  return `{"intent": "${intent}"}`;
}

/**
 * Partial credit for a reply: the share of the reference reply's characters it gets right before
 * its first mistake. Dense enough for RL on a barely trained model (most replies start right).
 */
export function prefixCredit(reply: string, expected: string): number {
  const target = intentReply(expected);
  const r = reply.trim();
  let n = 0;
  while (n < target.length && n < r.length && r[n] === target[n]) n++;
  return n / target.length;
}
