/**
 * LoRA weights as a standard PEFT adapter directory (`adapter_model.safetensors` +
 * `adapter_config.json`), the format vLLM, transformers and peft load. Export is what
 * `save_weights_for_sampler` writes; import lets such a directory seed a trainable adapter.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineUserError } from './errors.js';
import { Prng } from './prng.js';
import { LM_HEAD_KEY, adaptedModules } from './lora.js';
import { readSafetensorsFile, tensorAsFloat32, writeSafetensorsFile, type NamedTensor } from './safetensors.js';
import type { LoraModuleKind, LoraParams, LoraSettings, ModelConfig } from './model-types.js';
import { expertLoraRank, parseExpertLoraKey } from './moe-config.js';
import { addExpertPeftTensors, expertPeftConfig, readExpertPeftTensors } from './peft-experts.js';

export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';
export const PEFT_CONFIG_FILE = 'adapter_config.json';

/** Our module kinds → the HF module path inside a decoder layer. */
const HF_MODULE: Record<LoraModuleKind, string> = {
  q: 'self_attn.q_proj', k: 'self_attn.k_proj', v: 'self_attn.v_proj', o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj', up: 'mlp.up_proj', down: 'mlp.down_proj',
};

/** "layers.3.q" → "base_model.model.model.layers.3.self_attn.q_proj"; "lm_head" → "base_model.model.lm_head". */
export function peftModuleName(key: string): string {
  if (key === LM_HEAD_KEY) return 'base_model.model.lm_head';
  const m = /^layers\.(\d+)\.(\w+)$/.exec(key);
  if (!m || !(m[2] in HF_MODULE)) throw new Error(`not a LoRA module key: ${key}`);
  return `base_model.model.model.layers.${m[1]}.${HF_MODULE[m[2] as LoraModuleKind]}`;
}

const MLP_NAMES = ['gate_proj', 'up_proj', 'down_proj'];

/** PEFT target_modules: the short names of the adapted linears. */
function targetModules(settings: LoraSettings): string[] {
  const out: string[] = [];
  if (settings.trainAttn) out.push('q_proj', 'k_proj', 'v_proj', 'o_proj');
  if (settings.trainMlp) out.push('gate_proj', 'up_proj', 'down_proj');
  if (settings.trainUnembed) out.push('lm_head');
  return out;
}

export interface PeftAdapter {
  baseModel: string;
  settings: LoraSettings;
  params: LoraParams;
}

/** `cfg` is needed for adapters of MoE models (their expert adapters are written stacked). */
export function writePeftAdapter(dir: string, adapter: PeftAdapter, cfg?: ModelConfig): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, NamedTensor>();
  const hasExperts = [...adapter.params.keys()].some((key) => parseExpertLoraKey(key) !== null);
  if (hasExperts) {
    if (cfg === undefined) throw new Error('writing the expert adapters of an MoE model needs its config');
    addExpertPeftTensors(tensors, cfg, adapter.settings.rank, adapter.params);
  }
  for (const [key, p] of adapter.params) {
    if (parseExpertLoraKey(key) !== null) continue;
    const name = peftModuleName(key);
    tensors.set(`${name}.lora_A.weight`, { data: p.A, shape: [adapter.settings.rank, p.inDim] });
    tensors.set(`${name}.lora_B.weight`, { data: p.B, shape: [p.outDim, adapter.settings.rank] });
  }
  writeSafetensorsFile(join(dir, PEFT_WEIGHTS_FILE), tensors, { metadata: { format: 'pt' } });
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: adapter.baseModel,
    r: adapter.settings.rank,
    lora_alpha: adapter.settings.alpha,
    lora_dropout: 0,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    target_modules: targetModules(adapter.settings).filter((m) => !(cfg?.moe !== undefined && MLP_NAMES.includes(m))),
    init_lora_weights: true,
    use_rslora: false,
    use_dora: false,
    ...(hasExperts ? expertPeftConfig(adapter.settings.rank, adapter.settings.alpha) : {}),
  };
  writeFileSync(join(dir, PEFT_CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
}

/** Reads a PEFT adapter dir made for a model of config `cfg`; shapes and module names are checked. */
export function readPeftAdapter(dir: string, cfg: ModelConfig): PeftAdapter {
  const configPath = join(dir, PEFT_CONFIG_FILE);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new EngineUserError(`cannot read PEFT adapter config ${configPath}: ${(e as Error).message}`);
  }
  if (config.peft_type !== 'LORA') throw new EngineUserError(`${configPath}: peft_type ${JSON.stringify(config.peft_type)} is not LORA`);
  const rank = config.r;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 1) throw new EngineUserError(`${configPath}: r must be a positive integer`);
  const alpha = typeof config.lora_alpha === 'number' ? config.lora_alpha : rank;
  if (config.use_dora === true) throw new EngineUserError(`${configPath}: DoRA adapters are not supported`);
  if (config.use_rslora === true) throw new EngineUserError(`${configPath}: rsLoRA scaling is not supported`);
  const file = readSafetensorsFile(join(dir, PEFT_WEIGHTS_FILE));
  const present = new Set<string>();
  for (const name of file.tensors.keys()) {
    const m = /^(.*)\.lora_[AB](?:\.default)?\.weight$/.exec(name);
    if (!m) throw new EngineUserError(`${dir}: unexpected tensor "${name}" in ${PEFT_WEIGHTS_FILE}`);
    present.add(m[1]);
  }
  const has = (kinds: string[]) => [...present].some((n) => kinds.some((k) => n.endsWith('.' + k)));
  const settings: LoraSettings = {
    rank, alpha, seed: 0,
    trainAttn: has(['q_proj', 'k_proj', 'v_proj', 'o_proj']),
    trainMlp: has(cfg.moe !== undefined ? ['mlp.experts', 'experts.base_layer'] : ['gate_proj', 'up_proj', 'down_proj']),
    trainUnembed: present.has('base_model.model.lm_head'),
  };
  const params: LoraParams = new Map();
  for (const { key, inDim, outDim } of adaptedModules(cfg, settings)) {
    const expert = parseExpertLoraKey(key);
    if (expert !== null) {
      // Fresh expert adapters, filled from the stacked tensors below.
      const bound = 1 / Math.sqrt(inDim);
      const r = expertLoraRank(expert.proj, rank);
      params.set(key, { A: new Prng(0, `lora.${key}`).fillUniform(new Float32Array(r * inDim), -bound, bound), B: new Float32Array(outDim * r), inDim, outDim });
      continue;
    }
    const name = peftModuleName(key);
    const read = (ab: 'A' | 'B', shape: number[]): Float32Array => {
      const tname = file.tensors.has(`${name}.lora_${ab}.weight`) ? `${name}.lora_${ab}.weight` : `${name}.lora_${ab}.default.weight`;
      const entry = file.tensors.get(tname);
      // Modules the adapter leaves out (e.g. only q_proj and v_proj trained) start as a fresh PEFT
      // module: B = 0 (no change to the model) and a random A, so they can still learn.
      if (!entry) {
        const out = new Float32Array(shape[0] * shape[1]);
        if (ab === 'A') new Prng(0, `lora.${key}`).fillUniform(out, -1 / Math.sqrt(inDim), 1 / Math.sqrt(inDim));
        return out;
      }
      if (entry.shape.length !== 2 || entry.shape[0] !== shape[0] || entry.shape[1] !== shape[1]) {
        throw new EngineUserError(`${dir}: tensor "${tname}" has shape [${entry.shape}], the base model needs [${shape}]`);
      }
      return tensorAsFloat32(file, tname);
    };
    params.set(key, { A: read('A', [rank, inDim]), B: read('B', [outDim, rank]), inDim, outDim });
  }
  const expertModules = cfg.moe !== undefined ? readExpertPeftTensors(file, dir, cfg, rank, params) : new Set<string>();
  for (const n of present) {
    if (expertModules.has(n)) continue;
    const known = [...params.keys()].some((k) => parseExpertLoraKey(k) === null && peftModuleName(k) === n);
    if (!known) throw new EngineUserError(`${dir}: adapter module "${n}" does not exist in the base model`);
  }
  const baseModel = typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : '';
  return { baseModel, settings, params };
}
