// A run's checkpoints, one JSON line each in <logDir>/checkpoints.jsonl (as the Tinker cookbook
// keeps them): a rerun with the same log directory resumes from the latest saved training state.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError, type TrainingClient } from '@tinker-ts/sdk';

export interface CheckpointRecord {
  name: string;
  /** The step to resume at: the number of steps whose updates the checkpoint holds. */
  step: number;
  /** tinker://.../weights/<name>: weights and optimizer state. */
  statePath?: string;
  /** tinker://.../sampler_weights/<name>: weights for sampling. */
  samplerPath?: string;
}

export type CheckpointKind = 'state' | 'sampler' | 'both';

export function checkpointLogFile(logDir: string): string {
  return join(logDir, 'checkpoints.jsonl');
}

export function readCheckpoints(logDir: string): CheckpointRecord[] {
  const file = checkpointLogFile(logDir);
  if (!existsSync(file)) return [];
  const records: CheckpointRecord[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (e) {
        throw new ValidationError(`${file} line ${i + 1}: not valid JSON (${(e as Error).message})`, { field: 'checkpoints' });
      }
      const r = parsed as Partial<CheckpointRecord>;
      if (typeof r.name !== 'string' || !Number.isInteger(r.step) || r.step! < 0) {
        throw new ValidationError(`${file} line ${i + 1}: expected {"name", "step", "statePath"?, "samplerPath"?}`, { field: 'checkpoints' });
      }
      records.push(r as CheckpointRecord);
    });
  return records;
}

/** The latest checkpoint with training state, if any. */
export function lastResumableCheckpoint(logDir: string): CheckpointRecord | undefined {
  return readCheckpoints(logDir).filter((c) => c.statePath !== undefined).pop();
}

/** The zero-padded name the recipes give the checkpoint of `step` (sorts in step order). */
export function checkpointName(step: number): string {
  return String(step).padStart(6, '0');
}

/**
 * Submits the saves of the client's weights under `name` now (so they hold exactly the updates
 * submitted before them) and returns a function that awaits them and logs the record.
 */
export function submitCheckpoint(
  training: TrainingClient,
  opts: { name: string; step: number; logDir: string; kind: CheckpointKind },
): () => Promise<CheckpointRecord> {
  const state = opts.kind !== 'sampler' ? training.saveState(opts.name) : undefined;
  const sampler = opts.kind !== 'state' ? training.saveWeightsForSampler(opts.name) : undefined;
  // Awaited later, after earlier steps' results: keep an early failure from counting as unhandled.
  const settled = Promise.all([state, sampler]);
  settled.catch(() => {});
  return async () => {
    const [s, w] = await settled;
    const record: CheckpointRecord = { name: opts.name, step: opts.step };
    if (s) record.statePath = s.path;
    if (w) record.samplerPath = w.path;
    mkdirSync(opts.logDir, { recursive: true });
    appendFileSync(checkpointLogFile(opts.logDir), JSON.stringify(record) + '\n');
    return record;
  };
}

/** Saves now and logs the record. */
export function saveCheckpoint(
  training: TrainingClient,
  opts: { name: string; step: number; logDir: string; kind: CheckpointKind },
): Promise<CheckpointRecord> {
  return submitCheckpoint(training, opts)();
}
