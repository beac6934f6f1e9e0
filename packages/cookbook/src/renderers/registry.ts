// Renderers by name (the cookbook's renderer names) and the recommended one for a model.
import { ValidationError, tokenizerFamily, type Tokenizer } from '@tinker-ts/sdk';
import { Llama3Renderer } from './llama3.js';
import { Qwen3Renderer } from './qwen3.js';
import type { Renderer } from './renderer.js';
import { RoleColonRenderer } from './role-colon.js';

export const RENDERER_NAMES = ['qwen3', 'qwen3_disable_thinking', 'llama3', 'role_colon'] as const;
export type RendererName = (typeof RENDERER_NAMES)[number];

export function getRenderer(name: RendererName | (string & {}), tokenizer: Tokenizer): Renderer {
  switch (name) {
    case 'qwen3':
      return new Qwen3Renderer(tokenizer, { thinking: true });
    case 'qwen3_disable_thinking':
      return new Qwen3Renderer(tokenizer, { thinking: false });
    case 'llama3':
      return new Llama3Renderer(tokenizer);
    case 'role_colon':
      return new RoleColonRenderer(tokenizer);
    default:
      throw new ValidationError(`unknown renderer ${JSON.stringify(name)}; known: ${RENDERER_NAMES.join(', ')}`, { field: 'renderer' });
  }
}

/** The renderer a model was trained to read: Qwen3 → qwen3, Llama 3 instruct → llama3, base models → role_colon. */
export function recommendedRendererName(model: string): RendererName {
  const family = tokenizerFamily(model);
  if (family === 'qwen3') return /-base$/i.test(model) ? 'role_colon' : 'qwen3';
  if (family === 'llama3') return /instruct/i.test(model) ? 'llama3' : 'role_colon';
  return 'role_colon';
}
