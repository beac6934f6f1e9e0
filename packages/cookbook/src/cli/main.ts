/**
 * tinker-ts-cookbook: runs a cookbook recipe against any Tinker-compatible server.
 *
 *   tinker-ts-cookbook <supervised | rl | dpo | distill | prompt-distill> --log-dir DIR [options]
 *
 * Progress lines go to standard error; the run's result (start step, steps, final checkpoint)
 * is printed on standard output as JSON. Rerunning with the same --log-dir resumes. Exit codes:
 * 0 success, 1 the run failed, 2 bad arguments.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ServiceClient, getTokenizer } from '@tinker-ts/sdk';
import { pricesFor } from '../prices.js';
import { getRenderer, recommendedRendererName } from '../renderers/registry.js';
import { TRAIN_ON_WHAT, type TrainOnWhat } from '../renderers/train-on-what.js';
import { trainDpo } from '../recipes/dpo.js';
import { readProblems } from '../recipes/jsonl-data.js';
import { trainOnPolicyDistillation } from '../recipes/on-policy-distillation.js';
import { promptAnswerDataset } from '../recipes/prompt-answer-env.js';
import { trainPromptDistillation } from '../recipes/prompt-distillation.js';
import { trainRl } from '../recipes/rl.js';
import type { StepLoopResult } from '../recipes/step-loop.js';
import { trainSupervised } from '../recipes/supervised.js';
import type { RecipeRunConfig } from '../recipes/training-run.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

const COMMON: Options = {
  'log-dir': { type: 'string' },
  'base-model': { type: 'string' },
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  'learning-rate': { type: 'string' },
  rank: { type: 'string' },
  steps: { type: 'string' },
  'batch-size': { type: 'string' },
  'save-every': { type: 'string' },
  seed: { type: 'string' },
  renderer: { type: 'string' },
  'initial-state': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const RECIPES: Record<string, { options: Options; usage: string }> = {
  supervised: {
    usage: '--data conversations.jsonl [--eval-data FILE --eval-every N] [--train-on-what WHAT] [--epochs N]',
    options: { data: { type: 'string' }, 'eval-data': { type: 'string' }, 'eval-every': { type: 'string' }, 'train-on-what': { type: 'string' }, epochs: { type: 'string' } },
  },
  rl: {
    usage: '--data problems.jsonl [--group-size N] [--groups-per-batch N] [--max-tokens N] [--temperature T]',
    options: { data: { type: 'string' }, 'group-size': { type: 'string' }, 'groups-per-batch': { type: 'string' }, 'max-tokens': { type: 'string' }, temperature: { type: 'string' } },
  },
  dpo: {
    usage: '--data pairs.jsonl [--beta B] [--reference tinker://.../sampler_weights/...]',
    options: { data: { type: 'string' }, beta: { type: 'string' }, reference: { type: 'string' } },
  },
  distill: {
    usage: '--data prompts.jsonl (--teacher-model-path PATH | --teacher-base-model MODEL) [--group-size N] [--max-tokens N] [--kl-coef C] [--kl-discount G]',
    options: {
      data: { type: 'string' }, 'teacher-model-path': { type: 'string' }, 'teacher-base-model': { type: 'string' },
      'group-size': { type: 'string' }, 'max-tokens': { type: 'string' }, temperature: { type: 'string' }, 'kl-coef': { type: 'string' }, 'kl-discount': { type: 'string' },
    },
  },
  'prompt-distill': {
    usage: '--prompts prompts.jsonl --system-prompt TEXT [--teacher-model-path PATH | --teacher-base-model MODEL] [--samples-per-prompt N] [--max-tokens N]',
    options: {
      prompts: { type: 'string' }, 'system-prompt': { type: 'string' }, 'teacher-model-path': { type: 'string' }, 'teacher-base-model': { type: 'string' },
      'samples-per-prompt': { type: 'string' }, 'max-tokens': { type: 'string' }, temperature: { type: 'string' },
    },
  },
};

export function cookbookUsage(): string {
  return [
    'usage: tinker-ts-cookbook <recipe> --log-dir DIR --base-model MODEL [--learning-rate LR] [--steps N] [--batch-size N]',
    '         [--rank R] [--save-every N] [--seed S] [--renderer NAME] [--initial-state tinker://...] [--base-url URL] [--api-key KEY]',
    'recipes:',
    ...Object.entries(RECIPES).map(([name, r]) => `  ${name} ${r.usage}`),
    'A rerun with the same --log-dir resumes from its checkpoints.jsonl. --base-url and --api-key default to TINKER_BASE_URL and TINKER_API_KEY.',
  ].join('\n');
}

class UsageError extends Error {}

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** Standard error when it is a terminal: the steps then show as a progress bar. */
  terminal?: { isTTY?: boolean; write(text: string): unknown };
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  ...(process.stderr.isTTY ? { terminal: process.stderr } : {}),
};

/** Runs the CLI on `argv` (without the program name); resolves to the exit code. */
export async function runCookbookCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const [recipe, ...rest] = argv;
  if (recipe === undefined || recipe === '--help' || recipe === '-h' || recipe === 'help') {
    io.stdout(cookbookUsage() + '\n');
    return recipe === undefined ? 2 : 0;
  }
  const spec = RECIPES[recipe];
  if (!spec) {
    io.stderr(`unknown recipe ${JSON.stringify(recipe)}; known: ${Object.keys(RECIPES).join(', ')}\n${cookbookUsage()}\n`);
    return 2;
  }
  let values: Values;
  try {
    values = parseArgs({ args: [...rest], options: { ...COMMON, ...spec.options }, strict: true, allowPositionals: false }).values as Values;
  } catch (e) {
    io.stderr(`${(e as Error).message}\nusage: tinker-ts-cookbook ${recipe} ${spec.usage}\n`);
    return 2;
  }
  if (values['help']) {
    io.stdout(`usage: tinker-ts-cookbook ${recipe} --log-dir DIR ${spec.usage}\n`);
    return 0;
  }
  let service: ServiceClient | undefined;
  try {
    const common = commonConfig(values, io);
    const baseURL = str(values, 'base-url') ?? io.env['TINKER_BASE_URL'];
    const apiKey = str(values, 'api-key') ?? io.env['TINKER_API_KEY'];
    service = new ServiceClient({ ...(baseURL ? { baseURL } : {}), ...(apiKey ? { apiKey } : {}) });
    const config = { ...common, prices: pricesFor(common.baseModel, baseURL) };
    const result = await runRecipe(recipe, values, config, service);
    io.stdout(
      JSON.stringify({ recipe, startStep: result.startStep, steps: result.steps.length, finalStatePath: result.final.statePath, finalSamplerPath: result.final.samplerPath }) + '\n',
    );
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`${e.message}\nusage: tinker-ts-cookbook ${recipe} --log-dir DIR ${spec.usage}\n`);
      return 2;
    }
    io.stderr(`tinker-ts-cookbook ${recipe}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    await service?.close();
  }
}

function commonConfig(v: Values, io: CliIo): RecipeRunConfig & { learningRate?: number; steps?: number; batchSize?: number; renderer?: string } {
  const logDir = str(v, 'log-dir');
  if (!logDir) throw new UsageError('--log-dir is required (checkpoints.jsonl and metrics.jsonl go there)');
  const baseModel = str(v, 'base-model');
  if (!baseModel) throw new UsageError('--base-model is required (e.g. Qwen/Qwen3-8B; a resumed run keeps the model of its checkpoint)');
  const c: RecipeRunConfig & { learningRate?: number; steps?: number; batchSize?: number; renderer?: string } = {
    baseModel,
    logDir,
    log: (line) => io.stderr(line + '\n'),
    ...(io.terminal ? { progress: io.terminal } : {}),
  };
  setNumber(c, 'learningRate', v, 'learning-rate', false);
  setNumber(c, 'rank', v, 'rank', true);
  setNumber(c, 'steps', v, 'steps', true);
  setNumber(c, 'batchSize', v, 'batch-size', true);
  setNumber(c, 'saveEvery', v, 'save-every', true);
  setNumber(c, 'seed', v, 'seed', true);
  const renderer = str(v, 'renderer');
  if (renderer) c.renderer = renderer;
  const initial = str(v, 'initial-state');
  if (initial) c.initialStatePath = initial;
  return c;
}

async function runRecipe(recipe: string, v: Values, c: ReturnType<typeof commonConfig>, service: ServiceClient): Promise<StepLoopResult> {
  const n = (flag: string, integer = true) => number(v, flag, integer);
  switch (recipe) {
    case 'supervised': {
      const what = str(v, 'train-on-what');
      if (what !== undefined && !(TRAIN_ON_WHAT as readonly string[]).includes(what)) throw new UsageError(`--train-on-what: one of ${TRAIN_ON_WHAT.join(', ')}`);
      return trainSupervised(service, {
        ...c, dataFile: required(v, 'data'),
        ...opt('evalFile', str(v, 'eval-data')), ...opt('evalEvery', n('eval-every')), ...opt('epochs', n('epochs')),
        ...(what ? { trainOnWhat: what as TrainOnWhat } : {}),
      });
    }
    case 'rl': {
      const renderer = getRenderer(c.renderer ?? recommendedRendererName(c.baseModel), getTokenizer(c.baseModel));
      const dataset = promptAnswerDataset({
        problems: readProblems(required(v, 'data')), renderer,
        ...opt('groupSize', n('group-size')), ...opt('groupsPerBatch', n('groups-per-batch')), ...opt('maxTokens', n('max-tokens')), ...opt('seed', c.seed),
      });
      return trainRl(service, { ...c, dataset, ...opt('temperature', n('temperature', false)), ...opt('maxTokens', n('max-tokens')) });
    }
    case 'dpo':
      return trainDpo(service, { ...c, dataFile: required(v, 'data'), ...opt('beta', n('beta', false)), ...opt('referenceModelPath', str(v, 'reference')) });
    case 'distill':
      return trainOnPolicyDistillation(service, {
        ...c, dataFile: required(v, 'data'),
        ...opt('teacherModelPath', str(v, 'teacher-model-path')), ...opt('teacherBaseModel', str(v, 'teacher-base-model')),
        ...opt('groupSize', n('group-size')), ...opt('maxTokens', n('max-tokens')), ...opt('temperature', n('temperature', false)), ...opt('klCoef', n('kl-coef', false)), ...opt('klDiscountFactor', n('kl-discount', false)),
      });
    case 'prompt-distill':
      return trainPromptDistillation(service, {
        ...c, promptsFile: required(v, 'prompts'), systemPrompt: required(v, 'system-prompt'),
        ...opt('teacherModelPath', str(v, 'teacher-model-path')), ...opt('teacherBaseModel', str(v, 'teacher-base-model')),
        ...opt('samplesPerPrompt', n('samples-per-prompt')), ...opt('maxTokens', n('max-tokens')), ...opt('temperature', n('temperature', false)),
      });
    default:
      throw new UsageError(`unknown recipe ${recipe}`);
  }
}

function opt<K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: T };
}

function str(v: Values, flag: string): string | undefined {
  const x = v[flag];
  return typeof x === 'string' ? x : undefined;
}

function required(v: Values, flag: string): string {
  const x = str(v, flag);
  if (x === undefined || x === '') throw new UsageError(`--${flag} is required`);
  return x;
}

function number(v: Values, flag: string, integer: boolean): number | undefined {
  const x = str(v, flag);
  if (x === undefined) return undefined;
  const n = Number(x);
  if (x.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${flag}: expected ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(x)}`);
  }
  return n;
}

function setNumber<T extends object>(target: T, key: string, v: Values, flag: string, integer: boolean): void {
  const n = number(v, flag, integer);
  if (n !== undefined) (target as Record<string, unknown>)[key] = n;
}
