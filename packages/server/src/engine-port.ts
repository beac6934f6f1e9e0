/**
 * The part of the engine the server uses: the methods of `EngineHost` from @tinker-ts/engine,
 * each a Promise executed in the engine process. Routes depend on this type (a type-only import:
 * nothing of the engine loads with it) so that app tests and the bench can wrap or replace the
 * engine they run against.
 */
import type { EngineHealth } from './engine-supervisor.js';
import type { EngineHost, LoraConfigInput, SampleInput, SampleSource, StateInfo, SupportedModelInfo } from '@tinker-ts/engine';

export type EngineModelInfo = SupportedModelInfo;
export type EngineLoraSettings = LoraConfigInput;
export type EngineStateInfo = StateInfo;
export type EngineSampleSource = SampleSource;
export type EngineSampleRequest = SampleInput;

export type EnginePort = EngineMethods & {
  /** The engine's state for healthz, where the engine is supervised (EngineSupervisor). */
  health?(): EngineHealth;
  /** A save_weights of the model was recorded at `dir` (lets a supervisor rebuild it from there). */
  noteCheckpoint?(adapterId: string, dir: string): Promise<void>;
  /** Where a base model's tokenizer files are (for the OpenAI- and Anthropic-compatible endpoints). */
  tokenizerFiles?(baseModel: string): Promise<EngineTokenizerFiles>;
};

export interface EngineTokenizerFiles {
  tokenizerJson: string;
  tokenizerConfigJson: string | null;
}

type EngineMethods = Pick<
  EngineHost,
  | 'listModels'
  | 'hasModel'
  | 'createAdapter'
  | 'dropAdapter'
  | 'forwardBackward'
  | 'optimStep'
  | 'saveState'
  | 'loadState'
  | 'readStateInfo'
  | 'saveSamplerWeights'
  | 'sample'
  | 'releaseSamplerWeights'
  | 'memoryInfo'
  | 'queueLength'
  | 'close'
>;
