/**
 * Chat templates: the Jinja template shipped in a model's `tokenizer_config.json`, rendered
 * with @huggingface/jinja exactly as transformers' `apply_chat_template` renders it.
 */
import { Template } from '@huggingface/jinja';
import { EngineUserError } from './errors.js';

export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the header that starts the assistant's turn. */
  addGenerationPrompt?: boolean;
  bosToken?: string | null;
  eosToken?: string | null;
  /** Extra variables the template may read (e.g. `enable_thinking`, `tools`). */
  extra?: Record<string, unknown>;
}

const compiled = new Map<string, Template>();

export function renderChatTemplate(template: string, messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
  let t = compiled.get(template);
  if (!t) {
    try {
      t = new Template(template);
    } catch (e) {
      throw new EngineUserError(`chat template does not parse: ${(e as Error).message}`);
    }
    compiled.set(template, t);
  }
  for (const m of messages) {
    if (typeof m?.role !== 'string' || typeof m.content !== 'string') throw new EngineUserError('every chat message needs a string role and content');
  }
  return t.render({
    messages,
    add_generation_prompt: opts.addGenerationPrompt ?? false,
    bos_token: opts.bosToken ?? '',
    eos_token: opts.eosToken ?? '',
    ...opts.extra,
  });
}
