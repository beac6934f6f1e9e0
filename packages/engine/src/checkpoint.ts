/**
 * Training state on disk: `adapter_state.safetensors` (LoRA A/B, and with the optimizer the
 * AdamW first/second moments or the Dimuon momentum) plus `training_state.json` (base model,
 * LoRA settings, step, and for a non-AdamW adapter its optimizer: AdamW states are written as
 * before, so a missing `optimizer` means AdamW).
 * Tensors are stored as float32, so save → load restores every value bit for bit.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineUserError } from './errors.js';
import { zerosLike } from './lora.js';
import { readSafetensorsFile, tensorAsFloat32, writeSafetensorsFile, type NamedTensor } from './safetensors.js';
import type { AdapterState, LoraParams, LoraSettings, OptimizerKind } from './model-types.js';
import { checkOptimizerKind, optimizerName, optimizerOf, resetOptimizerState } from './optimizer-state.js';

export const STATE_TENSORS_FILE = 'adapter_state.safetensors';
export const STATE_JSON_FILE = 'training_state.json';
const FORMAT = 'tinker-ts/training-state/v1';

export interface TrainingStateInfo {
  baseModel: string;
  settings: LoraSettings;
  step: number;
  hasOptimizer: boolean;
  /** The optimizer of the adapter that was saved, when not AdamW (its identity is kept by a full-state resume). */
  optimizer?: OptimizerKind;
}

const GROUPS = { params: 'lora', adamM: 'adam_m', adamV: 'adam_v', dimuonM: 'dimuon_m' } as const;

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
  const optimizer = optimizerOf(state);
  if (withOptimizer && optimizer === 'dimuon') {
    addGroup(tensors, GROUPS.dimuonM, state.dimuonMomentum!, state.settings.rank);
  } else if (withOptimizer) {
    addGroup(tensors, GROUPS.adamM, state.adamM, state.settings.rank);
    addGroup(tensors, GROUPS.adamV, state.adamV, state.settings.rank);
  }
  writeSafetensorsFile(join(dir, STATE_TENSORS_FILE), tensors, { metadata: { format: FORMAT } });
  const info = {
    format: FORMAT, base_model: baseModel, lora: state.settings, step: state.step, has_optimizer: withOptimizer,
    ...(optimizer !== 'adamw' ? { optimizer } : {}),
  };
  writeFileSync(join(dir, STATE_JSON_FILE), JSON.stringify(info, null, 2) + '\n');
}

export function readTrainingStateInfo(dir: string): TrainingStateInfo {
  const path = join(dir, STATE_JSON_FILE);
  if (!existsSync(path)) throw new EngineUserError(`no training state at ${dir} (missing ${STATE_JSON_FILE})`);
  let raw: { format?: unknown; base_model?: unknown; lora?: LoraSettings; step?: unknown; has_optimizer?: unknown; optimizer?: unknown };
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new EngineUserError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (raw.format !== FORMAT) throw new EngineUserError(`${path}: unknown training state format ${JSON.stringify(raw.format)}`);
  if (typeof raw.base_model !== 'string' || !raw.lora || typeof raw.step !== 'number') throw new EngineUserError(`${path}: incomplete training state`);
  const info: TrainingStateInfo = { baseModel: raw.base_model, settings: { ...raw.lora }, step: raw.step, hasOptimizer: raw.has_optimizer === true };
  if (raw.optimizer !== undefined) {
    try {
      info.optimizer = checkOptimizerKind(raw.optimizer);
    } catch (e) {
      throw new EngineUserError(`${path}: ${(e as Error).message}`);
    }
  }
  return info;
}

/**
 * Loads a saved state into `target` (same base model and LoRA shape required). Without the
 * optimizer, moments are reset to zero and the step restarts at 0, as a fresh optimizer would.
 * With it, the checkpoint's optimizer must be the target's: the optimizer is fixed at creation.
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
  const kind = optimizerOf(target);
  const saved = optimizerOf(info);
  if (withOptimizer && saved !== kind) {
    throw new EngineUserError(`checkpoint at ${dir} holds ${optimizerName(saved)} optimizer state, but this model was created with ` +
      `the ${optimizerName(kind)} optimizer; load only its weights, or create the model with the ${optimizerName(saved)} optimizer`);
  }
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
  if (withOptimizer && kind === 'dimuon') {
    target.dimuonMomentum ??= zerosLike(target.params);
    read(GROUPS.dimuonM, target.dimuonMomentum);
    target.step = info.step;
  } else if (withOptimizer) {
    read(GROUPS.adamM, target.adamM);
    read(GROUPS.adamV, target.adamV);
    target.step = info.step;
  } else {
    resetOptimizerState(target);
  }
  target.settings = { ...t, alpha: s.alpha, seed: s.seed };
  target.grads = zerosLike(target.params);
}
