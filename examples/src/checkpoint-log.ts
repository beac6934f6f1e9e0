// A run's checkpoints, one JSON line each in <logPath>/checkpoints.jsonl (as the Tinker cookbook
// keeps them), so that a restarted loop resumes from the latest saved state.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainingClient } from '@tinker-ts/sdk';

export interface CheckpointRecord {
  name: string;
  /** The loop step (batch index) to resume at. */
  step: number;
  /** tinker://.../weights/<name>: weights and optimizer state. */
  statePath?: string;
  /** tinker://.../sampler_weights/<name>: weights for sampling. */
  samplerPath?: string;
}

export function checkpointLogFile(logPath: string): string {
  return join(logPath, 'checkpoints.jsonl');
}

export function readCheckpoints(logPath: string): CheckpointRecord[] {
  const file = checkpointLogFile(logPath);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as CheckpointRecord;
      } catch (e) {
        throw new Error(`${file} line ${i + 1}: not valid JSON (${(e as Error).message})`);
      }
    });
}

/** The latest checkpoint with training state, if any. */
export function lastResumableCheckpoint(logPath: string): CheckpointRecord | undefined {
  return readCheckpoints(logPath).filter((c) => c.statePath !== undefined).pop();
}

export type CheckpointKind = 'state' | 'sampler' | 'both';

/** Saves the client's current weights under `name` and records where they went. */
export async function saveCheckpoint(
  training: TrainingClient,
  opts: { name: string; step: number; logPath: string; kind: CheckpointKind },
): Promise<CheckpointRecord> {
  const state = opts.kind !== 'sampler' ? training.saveState(opts.name) : undefined;
  const sampler = opts.kind !== 'state' ? training.saveWeightsForSampler(opts.name) : undefined;
  const record: CheckpointRecord = { name: opts.name, step: opts.step };
  if (state) record.statePath = (await state).path;
  if (sampler) record.samplerPath = (await sampler).path;
  mkdirSync(opts.logPath, { recursive: true });
  appendFileSync(checkpointLogFile(opts.logPath), JSON.stringify(record) + '\n');
  return record;
}
