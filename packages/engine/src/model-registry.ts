/**
 * The base models an engine can serve: the built-in stand-ins plus any local Hugging Face
 * directories registered by name. Weights load lazily on first use and are shared by every
 * adapter on that base model.
 */
import { EngineUserError } from './errors.js';
import { readHfConfig } from './hf-config.js';
import { readHfWeights } from './hf-weights.js';
import { randomModelWeights } from './init.js';
import type { LoadedModel, ModelConfig, ModelFamily } from './model-types.js';
import { STAND_INS, describeStandIn, type StandInSpec } from './stand-ins.js';
import { Tokenizer, type TokenizerFiles } from './tokenizer.js';

export interface SupportedModelInfo {
  model_name: string;
  max_context_length: number;
  family: ModelFamily;
  stand_in: boolean;
}

interface RegisteredModel {
  name: string;
  config: ModelConfig;
  maxContextLength: number;
  standIn: StandInSpec | null;
  /** HF directory for local models. */
  dir: string | null;
  loaded: LoadedModel | null;
}

export interface ModelRegistryOptions {
  /** Extra models: name → local HF model directory (config.json, safetensors, tokenizer files). */
  models?: Record<string, string>;
  /** Where to report that a stand-in was loaded (default: stderr). */
  log?: (line: string) => void;
}

export class ModelRegistry {
  private readonly models = new Map<string, RegisteredModel>();
  private readonly log: (line: string) => void;

  constructor(opts: ModelRegistryOptions = {}) {
    this.log = opts.log ?? ((line) => process.stderr.write(`[tinker-ts engine] ${line}\n`));
    for (const s of STAND_INS) {
      this.models.set(s.name, { name: s.name, config: s.config, maxContextLength: s.maxContextLength, standIn: s, dir: null, loaded: null });
    }
    for (const [name, dir] of Object.entries(opts.models ?? {})) {
      const config = readHfConfig(dir);
      // A local model replaces a stand-in of the same name: the real weights win.
      this.models.set(name, { name, config, maxContextLength: config.maxPositionEmbeddings, standIn: null, dir, loaded: null });
    }
  }

  list(): SupportedModelInfo[] {
    return [...this.models.values()].map((m) => ({
      model_name: m.name, max_context_length: m.maxContextLength, family: m.config.family, stand_in: m.standIn !== null,
    }));
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  private entry(name: string): RegisteredModel {
    const m = this.models.get(name);
    if (!m) throw new EngineUserError(`unknown base model "${name}"; available: ${[...this.models.keys()].join(', ')}`);
    return m;
  }

  config(name: string): ModelConfig {
    return this.entry(name).config;
  }

  maxContextLength(name: string): number {
    return this.entry(name).maxContextLength;
  }

  isStandIn(name: string): boolean {
    return this.entry(name).standIn !== null;
  }

  /** The model's weights, loading them on first use. */
  load(name: string): LoadedModel {
    const m = this.entry(name);
    if (!m.loaded) {
      if (m.standIn) {
        this.log(describeStandIn(m.standIn));
        m.loaded = { name, config: m.config, weights: randomModelWeights(m.config, m.standIn.seed) };
      } else {
        m.loaded = { name, config: m.config, weights: readHfWeights(m.dir!, m.config) };
      }
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
