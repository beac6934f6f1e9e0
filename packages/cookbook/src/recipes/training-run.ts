// What every recipe shares before its first step: a training client that is new, started from a
// given state, or resumed from the run's checkpoints.jsonl (weights and optimizer state), and the
// run's metrics log, cost meter and progress output.
import type { ProgressStream, ServiceClient, TrainingClient } from '@tinker-ts/sdk';
import { ValidationError } from '@tinker-ts/sdk';
import { CostMeter } from '../cost-meter.js';
import { ZERO_PRICES, type TokenPrices } from '../prices.js';
import { lastResumableCheckpoint, type CheckpointRecord } from './checkpoint-log.js';
import { MetricsLog } from './metrics-log.js';

/** Options every recipe takes. */
export interface RecipeRunConfig {
  /** Base model of a new run (ignored when resuming or starting from `initialStatePath`). */
  baseModel: string;
  /** checkpoints.jsonl and metrics.jsonl go here; a rerun with the same directory resumes. */
  logDir: string;
  /** LoRA rank of a new run (default 32). */
  rank?: number;
  /** Which weights a new run's adapter covers (default all: MLP, attention and the output projection). */
  lora?: { trainMlp?: boolean; trainAttn?: boolean; trainUnembed?: boolean };
  /** Seeds the LoRA initialisation, the data order and sampling (default: unseeded LoRA, order 0). */
  seed?: number;
  /** Start a new run from this training state (`tinker://.../weights/...`), e.g. a supervised run's final one. */
  initialStatePath?: string;
  /** Save training state every this many steps (0: only at the end). */
  saveEvery?: number;
  /** Token prices for the cost metrics; default zero (use `pricesFor(model, baseURL)` on hosted Tinker). */
  prices?: TokenPrices;
  /** Progress lines (default: standard error). */
  log?: (line: string) => void;
  /** A terminal to draw a progress bar on instead of one line per step (what is not a terminal gets the lines). */
  progress?: ProgressStream;
}

export interface TrainingRun {
  training: TrainingClient;
  /** The first step this invocation trains (> 0 after a resume). */
  startStep: number;
  /** The checkpoint resumed from, if any. */
  resumedFrom?: CheckpointRecord;
  metrics: MetricsLog;
  cost: CostMeter;
  log: (line: string) => void;
  progress?: ProgressStream;
}

export function defaultLog(line: string): void {
  process.stderr.write(line + '\n');
}

export async function openTrainingRun(service: ServiceClient, config: RecipeRunConfig): Promise<TrainingRun> {
  if (typeof config.logDir !== 'string' || config.logDir === '') {
    throw new ValidationError('logDir: a directory for checkpoints.jsonl and metrics.jsonl is required', { field: 'logDir' });
  }
  const log = config.log ?? defaultLog;
  const resume = lastResumableCheckpoint(config.logDir);
  let training: TrainingClient;
  let startStep = 0;
  if (resume) {
    // A model of the checkpoint's shape, then loadStateWithOptimizer: weights and Adam moments, so
    // the resumed run continues as if never stopped.
    training = await service.createTrainingClientFromStateWithOptimizer(resume.statePath!);
    startStep = resume.step;
    log(`resuming at step ${startStep} from ${resume.statePath}`);
  } else if (config.initialStatePath) {
    training = await service.createTrainingClientFromState(config.initialStatePath);
    log(`starting from ${config.initialStatePath}`);
  } else {
    training = await service.createLoraTrainingClient({
      baseModel: config.baseModel,
      rank: config.rank ?? 32,
      ...config.lora,
      ...(config.seed !== undefined ? { seed: config.seed } : {}),
    });
  }
  const metrics = new MetricsLog(config.logDir, startStep);
  const cost = new CostMeter(config.prices ?? ZERO_PRICES, metrics.lastBefore(startStep));
  return { training, startStep, ...(resume ? { resumedFrom: resume } : {}), metrics, cost, log, ...(config.progress ? { progress: config.progress } : {}) };
}
