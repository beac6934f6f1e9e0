/**
 * The base models an engine can serve: the built-in stand-ins plus any local Hugging Face
 * directories registered by name. Weights load lazily on first use and are shared by every
 * adapter on that base model. Each model's frozen weights are stored as f32 or bf16: as asked
 * per model (`dtypes`), else as its checkpoint stores them (stand-ins: f32).
 */
import { parseModelId, formatModelId, TinkerProtocolError } from '@tinker-ts/protocol';
import { EngineUserError } from './errors.js';
import { readHfConfig } from './hf-config.js';
import { checkpointWeightDtype, readHfWeights } from './hf-weights.js';
import { randomModelWeights } from './init.js';
import type { LoadedModel, ModelConfig, ModelFamily } from './model-types.js';
import { baseWeightBytes, convertWeights, parseWeightDtype, type FrozenWeight, type WeightDtype } from './weight-dtype.js';
import { RETIRED_ALIASES, SHARED_TOKENIZER_ID, STAND_INS, describeStandIn, type StandInSpec } from './stand-ins.js';
import { Tokenizer, type TokenizerFiles } from './tokenizer.js';

export interface SupportedModelInfo {
  model_name: string;
  max_context_length: number;
  family: ModelFamily;
  stand_in: boolean;
  /** Set on a retired name accepted as another model's alias (not a model of its own). */
  alias_of?: string;
  /** Set when the model's tokenizer is not its own: the id of the one it uses. */
  tokenizer_id?: string;
}

interface RegisteredModel {
  name: string;
  config: ModelConfig;
  maxContextLength: number;
  standIn: StandInSpec | null;
  /** HF directory for local models. */
  dir: string | null;
  /** How its frozen weights are stored once loaded. */
  dtype: WeightDtype;
  loaded: LoadedModel<FrozenWeight> | null;
}

export interface ModelRegistryOptions {
  /** Extra models: name → local HF model directory (config.json, safetensors, tokenizer files). */
  models?: Record<string, string>;
  /**
   * How a model's frozen weights are stored: name → "bf16" or "f32" (any registered model,
   * stand-ins included). Default: the checkpoint's dtype (bf16 for a BF16 checkpoint, else f32);
   * f32 for stand-ins.
   */
  dtypes?: Record<string, string>;
  /** Where to report that a stand-in was loaded (default: stderr). */
  log?: (line: string) => void;
}

export class ModelRegistry {
  private readonly models = new Map<string, RegisteredModel>();
  /** Retired name → the registered model it stands for. */
  private readonly aliases = new Map<string, string>();
  private readonly log: (line: string) => void;

  constructor(opts: ModelRegistryOptions = {}) {
    this.log = opts.log ?? ((line) => process.stderr.write(`[tinker-ts engine] ${line}\n`));
    for (const s of STAND_INS) {
      this.models.set(s.name, { name: s.name, config: s.config, maxContextLength: s.maxContextLength, standIn: s, dir: null, dtype: 'f32', loaded: null });
    }
    for (const [name, dir] of Object.entries(opts.models ?? {})) {
      const config = readHfConfig(dir);
      // A local model replaces a stand-in of the same name: the real weights win.
      this.models.set(name, {
        name, config, maxContextLength: config.maxPositionEmbeddings, standIn: null, dir, dtype: checkpointWeightDtype(dir), loaded: null,
      });
    }
    for (const [name, dtype] of Object.entries(opts.dtypes ?? {})) {
      const m = this.models.get(name);
      if (!m) throw new EngineUserError(`dtype given for unknown model "${name}"; available: ${[...this.models.keys()].join(', ')}`);
      m.dtype = parseWeightDtype(dtype, `dtype of ${name}:`);
    }
    for (const [alias, target] of Object.entries(RETIRED_ALIASES)) {
      if (!this.models.has(alias) && this.models.has(target)) this.aliases.set(alias, target);
    }
  }

  /** Every base model, each followed by the `:peft:<ctx>` variants listed for it. */
  list(): SupportedModelInfo[] {
    return [...this.models.values()].flatMap((m) => {
      const info = (model_name: string, max_context_length: number): SupportedModelInfo => ({
        model_name, max_context_length, family: m.config.family, stand_in: m.standIn !== null,
        ...(m.standIn && !m.standIn.ownTokenizer ? { tokenizer_id: SHARED_TOKENIZER_ID } : {}),
      });
      const variants = (m.standIn?.peftContexts ?? []).map((c) => info(formatModelId({ base: m.name, peftContext: c, samplingOnly: false }), c));
      return [info(m.name, m.maxContextLength), ...variants];
    }).concat(
      [...this.aliases].map(([alias, target]) => {
        const m = this.models.get(target)!;
        return {
          model_name: alias, max_context_length: m.maxContextLength, family: m.config.family, stand_in: m.standIn !== null, alias_of: target,
          ...(m.standIn && !m.standIn.ownTokenizer ? { tokenizer_id: SHARED_TOKENIZER_ID } : {}),
        };
      }),
    );
  }

  has(name: string): boolean {
    try {
      this.resolve(name);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The registered model behind a model id, and the context the id allows. A `:peft:<ctx>`
   * variant shares its base model's weights; its context may be up to the base's longest (its
   * own or a listed variant's). `:sampling-nvfp4` changes nothing here: sampling runs at full
   * precision.
   */
  private resolve(name: string): { entry: RegisteredModel; maxContextLength: number } {
    const exact = this.models.get(name);
    if (exact) return { entry: exact, maxContextLength: exact.maxContextLength };
    let id;
    try {
      id = parseModelId(name);
    } catch (e) {
      if (e instanceof TinkerProtocolError) throw new EngineUserError(e.message);
      throw e;
    }
    const entry = this.models.get(id.base) ?? this.models.get(this.aliases.get(id.base) ?? '');
    if (entry && id.base !== entry.name && id.peftContext === null && !id.samplingOnly) {
      return { entry, maxContextLength: entry.maxContextLength };
    }
    if (!entry || (id.peftContext === null && !id.samplingOnly)) {
      throw new EngineUserError(`unknown base model "${name}"; available: ${[...this.models.keys()].join(', ')}`);
    }
    if (id.peftContext === null) return { entry, maxContextLength: entry.maxContextLength };
    const longest = Math.max(entry.maxContextLength, entry.config.maxPositionEmbeddings, ...(entry.standIn?.peftContexts ?? []));
    if (id.peftContext > longest) {
      throw new EngineUserError(`"${name}": ${id.base} takes a context of at most ${longest} tokens, not ${id.peftContext}`);
    }
    return { entry, maxContextLength: id.peftContext };
  }

  private entry(name: string): RegisteredModel {
    return this.resolve(name).entry;
  }

  config(name: string): ModelConfig {
    return this.entry(name).config;
  }

  maxContextLength(name: string): number {
    return this.resolve(name).maxContextLength;
  }

  isStandIn(name: string): boolean {
    return this.entry(name).standIn !== null;
  }

  /** How the model's frozen weights are (or will be, once loaded) stored. */
  dtype(name: string): WeightDtype {
    return this.entry(name).dtype;
  }

  /** The model's weights, loading them on first use. */
  load(name: string): LoadedModel<FrozenWeight> {
    const m = this.entry(name);
    if (!m.loaded) {
      if (m.standIn) {
        this.log(describeStandIn(m.standIn));
        const weights = randomModelWeights(m.config, m.standIn.seed);
        m.loaded = { name: m.name, config: m.config, weights: m.dtype === 'f32' ? weights : convertWeights(weights, m.dtype) };
      } else {
        m.loaded = { name: m.name, config: m.config, weights: readHfWeights(m.dir!, m.config, m.dtype) };
      }
      if (m.dtype !== 'f32') this.log(`${name}: base weights in ${m.dtype}, ${baseWeightBytes(m.loaded.weights)} bytes`);
    }
    return m.loaded;
  }

  tokenizerFiles(name: string): TokenizerFiles {
    const m = this.entry(name);
    return m.standIn ? Tokenizer.bundledFiles(m.config.family) : Tokenizer.filesInDir(m.dir!);
  }

  /** The model's tokenizer, or null when a local model ships none. */
  tokenizer(name: string): Tokenizer | null {
    try {
      return Tokenizer.fromFiles(this.tokenizerFiles(name));
    } catch (e) {
      if (e instanceof EngineUserError && !this.entry(name).standIn) return null;
      throw e;
    }
  }
}
