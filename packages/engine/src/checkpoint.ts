/**
 * Training state on disk: `adapter_state.safetensors` (LoRA A/B, and with the optimizer the
 * AdamW first/second moments) plus `training_state.json` (base model, LoRA settings, step).
 * Tensors are stored as float32, so save → load restores every value bit for bit.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineUserError } from './errors.js';
import { zerosLike } from './lora.js';
import { readSafetensorsFile, tensorAsFloat32, writeSafetensorsFile, type NamedTensor } from './safetensors.js';
import type { AdapterState, LoraParams, LoraSettings } from './model-types.js';

export const STATE_TENSORS_FILE = 'adapter_state.safetensors';
export const STATE_JSON_FILE = 'training_state.json';
const FORMAT = 'tinker-ts/training-state/v1';

export interface TrainingStateInfo {
  baseModel: string;
  settings: LoraSettings;
  step: number;
  hasOptimizer: boolean;
}

const GROUPS = { params: 'lora', adamM: 'adam_m', adamV: 'adam_v' } as const;

function addGroup(out: Map<string, NamedTensor>, prefix: string, params: LoraParams, rank: number): void {
  for (const [key, p] of params) {
    // Expert gate_up adapters have twice the adapter's rank (moe-config.ts).
    const r = p.A.length / p.inDim || rank;
    out.set(`${prefix}.${key}.A`, { data: p.A, shape: [r, p.inDim] });
    out.set(`${prefix}.${key}.B`, { data: p.B, shape: [p.outDim, r] });
  }
}

export function saveTrainingState(dir: string, baseModel: string, state: AdapterState, withOptimizer: boolean): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, NamedTensor>();
  addGroup(tensors, GROUPS.params, state.params, state.settings.rank);
  if (withOptimizer) {
    addGroup(tensors, GROUPS.adamM, state.adamM, state.settings.rank);
    addGroup(tensors, GROUPS.adamV, state.adamV, state.settings.rank);
  }
  writeSafetensorsFile(join(dir, STATE_TENSORS_FILE), tensors, { metadata: { format: FORMAT } });
  const info = { format: FORMAT, base_model: baseModel, lora: state.settings, step: state.step, has_optimizer: withOptimizer };
  writeFileSync(join(dir, STATE_JSON_FILE), JSON.stringify(info, null, 2) + '\n');
}

export function readTrainingStateInfo(dir: string): TrainingStateInfo {
  const path = join(dir, STATE_JSON_FILE);
  if (!existsSync(path)) throw new EngineUserError(`no training state at ${dir} (missing ${STATE_JSON_FILE})`);
  let raw: { format?: unknown; base_model?: unknown; lora?: LoraSettings; step?: unknown; has_optimizer?: unknown };
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new EngineUserError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (raw.format !== FORMAT) throw new EngineUserError(`${path}: unknown training state format ${JSON.stringify(raw.format)}`);
  if (typeof raw.base_model !== 'string' || !raw.lora || typeof raw.step !== 'number') throw new EngineUserError(`${path}: incomplete training state`);
  return { baseModel: raw.base_model, settings: { ...raw.lora }, step: raw.step, hasOptimizer: raw.has_optimizer === true };
}

/**
 * Loads a saved state into `target` (same base model and LoRA shape required). Without the
 * optimizer, moments are reset to zero and the step restarts at 0, as a fresh optimizer would.
 */
export function loadTrainingState(dir: string, baseModel: string, target: AdapterState, withOptimizer: boolean): void {
  const info = readTrainingStateInfo(dir);
  if (info.baseModel !== baseModel) throw new EngineUserError(`checkpoint at ${dir} is for base model ${info.baseModel}, not ${baseModel}`);
  const s = info.settings;
  const t = target.settings;
  if (s.rank !== t.rank || s.trainAttn !== t.trainAttn || s.trainMlp !== t.trainMlp || s.trainUnembed !== t.trainUnembed) {
    throw new EngineUserError(`checkpoint at ${dir} has LoRA rank ${s.rank} (attn=${s.trainAttn}, mlp=${s.trainMlp}, unembed=${s.trainUnembed}); ` +
      `this model has rank ${t.rank} (attn=${t.trainAttn}, mlp=${t.trainMlp}, unembed=${t.trainUnembed})`);
  }
  if (withOptimizer && !info.hasOptimizer) throw new EngineUserError(`checkpoint at ${dir} was saved without optimizer state`);
  const file = readSafetensorsFile(join(dir, STATE_TENSORS_FILE));
  const read = (prefix: string, into: LoraParams): void => {
    for (const [key, p] of into) {
      for (const ab of ['A', 'B'] as const) {
        const name = `${prefix}.${key}.${ab}`;
        if (!file.tensors.has(name)) throw new EngineUserError(`checkpoint at ${dir} lacks tensor ${name}`);
        const values = tensorAsFloat32(file, name);
        if (values.length !== p[ab].length) throw new EngineUserError(`checkpoint tensor ${name} has ${values.length} values, expected ${p[ab].length}`);
        p[ab].set(values);
      }
    }
  };
  read(GROUPS.params, target.params);
  if (withOptimizer) {
    read(GROUPS.adamM, target.adamM);
    read(GROUPS.adamV, target.adamV);
    target.step = info.step;
  } else {
    target.adamM = zerosLike(target.params);
    target.adamV = zerosLike(target.params);
    target.step = 0;
  }
  target.settings = { ...t, alpha: s.alpha, seed: s.seed };
  target.grads = zerosLike(target.params);
}
