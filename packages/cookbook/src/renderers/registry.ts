// Renderers by name (the cookbook's renderer names) and the recommended one for a model.
import { ValidationError, tokenizerFamily, type Tokenizer } from '@tinker-ts/sdk';
import { DeepSeekV3Renderer } from './deepseek-v3.js';
import { DeepSeekV31Renderer } from './deepseek-v3.1.js';
import { GptOssRenderer } from './gpt-oss.js';
import { Llama3Renderer } from './llama3.js';
import { Qwen3Renderer } from './qwen3.js';
import type { Renderer } from './renderer.js';
import { RoleColonRenderer } from './role-colon.js';

export const RENDERER_NAMES = ['qwen3', 'qwen3_disable_thinking', 'llama3', 'role_colon',
  'gpt_oss_no_sysprompt', 'gpt_oss_low_reasoning', 'gpt_oss_medium_reasoning', 'gpt_oss_high_reasoning', 'deepseekv3',
  'deepseekv3_1', 'deepseekv3_1_thinking'] as const;
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
    case 'gpt_oss_no_sysprompt':
      return new GptOssRenderer(tokenizer, { reasoningEffort: undefined });
    case 'gpt_oss_low_reasoning':
      return new GptOssRenderer(tokenizer, { reasoningEffort: 'low' });
    case 'gpt_oss_medium_reasoning':
      return new GptOssRenderer(tokenizer, { reasoningEffort: 'medium' });
    case 'gpt_oss_high_reasoning':
      return new GptOssRenderer(tokenizer, { reasoningEffort: 'high' });
    case 'deepseekv3':
      return new DeepSeekV3Renderer(tokenizer);
    case 'deepseekv3_1':
      return new DeepSeekV31Renderer(tokenizer, { thinking: false });
    case 'deepseekv3_1_thinking':
      return new DeepSeekV31Renderer(tokenizer, { thinking: true });
    default:
      throw new ValidationError(`unknown renderer ${JSON.stringify(name)}; known: ${RENDERER_NAMES.join(', ')}`, { field: 'renderer' });
  }
}

/**
 * The renderer a model was trained to read: Qwen3 → qwen3, Llama 3 instruct → llama3, gpt-oss →
 * gpt_oss_medium_reasoning (its template's default effort), DeepSeek V3.1 → deepseekv3_1 (its template's
 * default, no reasoning), DeepSeek V3 → deepseekv3, base models → role_colon.
 */
export function recommendedRendererName(model: string): RendererName {
  if (/^openai\/gpt-oss-/i.test(model)) return 'gpt_oss_medium_reasoning';
  if (/^deepseek-ai\/DeepSeek-V3.*-Base$/i.test(model)) return 'role_colon';
  if (/^deepseek-ai\/DeepSeek-V3\.1/i.test(model)) return 'deepseekv3_1';
  if (/^deepseek-ai\/DeepSeek-V3/i.test(model)) return 'deepseekv3';
  const family = tokenizerFamily(model);
  if (family === 'qwen3') return /-base$/i.test(model) ? 'role_colon' : 'qwen3';
  if (family === 'llama3') return /instruct/i.test(model) ? 'llama3' : 'role_colon';
  return 'role_colon';
}
