// Prompt distillation (the cookbook's prompt_distillation recipe): a teacher that reads a system
// prompt answers each prompt; the student learns those answers without the system prompt, by
// supervised training. The teacher's conversations are written once to
// <logDir>/prompt-distillation-data.jsonl, so a resumed run trains on the same data.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError, type ServiceClient } from '@tinker-ts/sdk';
import type { Message } from '../renderers/message.js';
import { readConversations, readPrompts } from './jsonl-data.js';
import { recipeRenderer, trainSupervised, type SupervisedConfig, type SupervisedResult } from './supervised.js';
import { defaultLog } from './training-run.js';

export interface PromptDistillationConfig extends Omit<SupervisedConfig, 'conversations' | 'dataFile'> {
  /** What the teacher reads first and the student never sees. */
  systemPrompt: string;
  /** Prompts, or `promptsFile` (JSONL, see readPrompts). */
  prompts?: readonly Message[][];
  promptsFile?: string | URL;
  /** The teacher: sampler weights, or a base model (default the student's base model). */
  teacherModelPath?: string;
  teacherBaseModel?: string;
  /** Teacher answers per prompt (default 1). */
  samplesPerPrompt?: number;
  maxTokens?: number;
  temperature?: number;
}

export interface PromptDistillationResult extends SupervisedResult {
  /** The teacher's conversations (without the system prompt) the student trained on. */
  dataFile: string;
}

export function promptDistillationDataFile(logDir: string): string {
  return join(logDir, 'prompt-distillation-data.jsonl');
}

export async function trainPromptDistillation(service: ServiceClient, config: PromptDistillationConfig): Promise<PromptDistillationResult> {
  if (typeof config.systemPrompt !== 'string' || config.systemPrompt === '') {
    throw new ValidationError('prompt distillation: systemPrompt (what the teacher reads) is required', { field: 'systemPrompt' });
  }
  if (config.teacherModelPath !== undefined && config.teacherBaseModel !== undefined) {
    throw new ValidationError('prompt distillation: give at most one of teacherModelPath or teacherBaseModel', { field: 'teacherModelPath' });
  }
  const dataFile = promptDistillationDataFile(config.logDir);
  if (!existsSync(dataFile)) await writeTeacherData(service, config, dataFile);
  const conversations = readConversations(dataFile);
  const result = await trainSupervised(service, { ...config, conversations });
  return { ...result, dataFile };
}

async function writeTeacherData(service: ServiceClient, config: PromptDistillationConfig, dataFile: string): Promise<void> {
  const prompts = config.prompts ?? (config.promptsFile !== undefined ? readPrompts(config.promptsFile) : undefined);
  if (!prompts || prompts.length === 0) throw new ValidationError('prompt distillation: give prompts or a promptsFile with at least one', { field: 'promptsFile' });
  const log = config.log ?? defaultLog;
  const teacher = await service.createSamplingClient(
    config.teacherModelPath !== undefined ? { modelPath: config.teacherModelPath } : { baseModel: config.teacherBaseModel ?? config.baseModel },
  );
  const renderer = recipeRenderer(config.renderer, config.baseModel, await teacher.getTokenizer());
  const n = config.samplesPerPrompt ?? 1;
  log(`prompt distillation: the teacher answers ${prompts.length} prompts (${n} each)`);
  const answered = await Promise.all(
    prompts.map(async (prompt, p) => {
      const res = await teacher.sample({
        prompt: renderer.buildGenerationPrompt([{ role: 'system', content: config.systemPrompt }, ...prompt]),
        numSamples: n,
        samplingParams: {
          maxTokens: config.maxTokens ?? 256,
          temperature: config.temperature ?? 1,
          stop: renderer.stopSequences(),
          ...(config.seed !== undefined ? { seed: config.seed * 100_003 + p } : {}),
        },
      });
      return res.sequences
        .map((s) => renderer.parseResponse(s.tokens).message)
        .filter((m) => m.content.trim() !== '')
        .map((reply) => ({ messages: [...prompt, { role: 'assistant', content: reply.content }] }));
    }),
  );
  const lines = answered.flat();
  if (lines.length === 0) throw new ValidationError('prompt distillation: the teacher gave no non-empty answer', { field: 'teacher' });
  mkdirSync(config.logDir, { recursive: true });
  // Written whole, then renamed: a crash mid-way leaves no partial data to resume from.
  writeFileSync(dataFile + '.tmp', lines.map((l) => JSON.stringify(l) + '\n').join(''));
  renameSync(dataFile + '.tmp', dataFile);
}
