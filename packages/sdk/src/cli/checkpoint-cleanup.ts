/**
 * `checkpoint delete` and `checkpoint set-ttl` as the Python CLI spells them:
 *   delete <tinker_path...> | --run-id RUN [--type weights|sampler_weights] [--before DATE] [--after DATE]  [-y]
 *   set-ttl <tinker_path> --ttl SECONDS | --remove      (hosted's minimum TTL is 3600 s)
 * Dates are ISO 8601 in UTC unless they name a zone (2024-06-01, 2024-06-01T08:00:00Z).
 * A delete asks for confirmation on an interactive terminal unless -y; from a script (stdin not
 * a terminal) explicit paths are deleted as named, and a filtered delete needs -y.
 */
import { createInterface } from 'node:readline/promises';
import { REQUEST_LIMITS, parseTinkerPath } from '@tinker-ts/protocol';
import { UsageError, flagOption, stringOption, type ParsedArgs } from '@tinker-ts/protocol/cli-args';
import type { RestClient } from '../rest-client.js';
import type { Checkpoint, CheckpointType } from '../types.js';
import { formatBytes, formatTime } from './output.js';

/** Hosted Tinker's shortest checkpoint TTL. */
export const MIN_TTL_SECONDS = 3600;

/** How many deletes are in flight at once. */
const DELETE_CONCURRENCY = 8;

const TYPE_NAMES: Record<string, CheckpointType> = { weights: 'training', training: 'training', sampler_weights: 'sampler', sampler: 'sampler' };

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** An ISO 8601 date or date-time; without a zone it is UTC (as the Python CLI reads it). */
export function parseUtcDate(value: string, option: string): Date {
  const v = value.trim();
  if (!ISO_DATE.test(v)) throw new UsageError(`${option} must be an ISO 8601 date such as 2024-06-01 or 2024-06-01T08:00:00Z, got ${JSON.stringify(value)}`);
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(v) ? v : v.includes('T') ? `${v}Z` : `${v}T00:00:00Z`;
  const d = new Date(zoned);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${option}: ${JSON.stringify(value)} is not a real date`);
  return d;
}

export interface DeletePlan {
  paths: string[];
  /** Known when the paths came from a run listing (shown before confirming). */
  checkpoints: Checkpoint[] | null;
}

/** What `checkpoint delete` would delete; UsageErrors for contradictory or malformed options. */
export async function planDelete(args: ParsedArgs, rest: () => Promise<RestClient>): Promise<DeletePlan> {
  const runId = stringOption(args, 'run-id');
  const type = stringOption(args, 'type');
  const before = stringOption(args, 'before');
  const after = stringOption(args, 'after');
  if (args.positionals.length === 0 && runId === undefined) {
    throw new UsageError('give checkpoint paths or --run-id (tinker-ts checkpoint delete <tinker_path...> | --run-id RUN [--type T] [--before DATE] [--after DATE] [-y])');
  }
  if (args.positionals.length > 0 && runId !== undefined) throw new UsageError('give either checkpoint paths or --run-id, not both');
  if ((type ?? before ?? after) !== undefined && runId === undefined) throw new UsageError('--type, --before and --after need --run-id');
  if (runId === undefined) {
    for (const p of args.positionals) {
      try {
        parseTinkerPath(p, 'checkpoint path');
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    }
    return { paths: [...new Set(args.positionals)], checkpoints: null };
  }
  let wanted: CheckpointType | null = null;
  if (type !== undefined) {
    wanted = TYPE_NAMES[type] ?? null;
    if (wanted === null) throw new UsageError(`--type must be weights or sampler_weights, got ${JSON.stringify(type)}`);
  }
  const beforeDate = before !== undefined ? parseUtcDate(before, '--before') : null;
  const afterDate = after !== undefined ? parseUtcDate(after, '--after') : null;
  const client = await rest();
  const matching: Checkpoint[] = [];
  for await (const c of client.listCheckpoints(runId)) {
    if (wanted !== null && c.checkpointType !== wanted) continue;
    if (beforeDate !== null && !(c.time < beforeDate)) continue;
    if (afterDate !== null && !(c.time > afterDate)) continue;
    matching.push(c);
  }
  return { paths: matching.map((c) => c.tinkerPath), checkpoints: matching };
}

/** The summary shown before asking (on stderr, so stdout stays the command's output). */
export function deleteSummary(plan: DeletePlan): string {
  const lines = [`Will delete ${plan.paths.length} checkpoint(s):`];
  if (plan.checkpoints) {
    for (const c of plan.checkpoints) lines.push(`  - ${c.tinkerPath} (${formatBytes(c.sizeBytes)}, created ${formatTime(c.time)})`);
    lines.push(`Total size: ${formatBytes(plan.checkpoints.reduce((s, c) => s + (c.sizeBytes ?? 0), 0))}`);
  } else {
    for (const p of plan.paths) lines.push(`  - ${p}`);
  }
  lines.push('WARNING: This action is permanent and cannot be undone.');
  return lines.join('\n');
}

/**
 * Whether to go ahead: -y, or "y"/"yes" typed on an interactive terminal. Without a terminal
 * there is nobody to ask: explicit paths go ahead, a filtered delete is refused.
 */
export async function confirmDelete(args: ParsedArgs, plan: DeletePlan): Promise<boolean> {
  if (flagOption(args, 'yes')) return true;
  if (!process.stdin.isTTY) {
    if (plan.checkpoints === null) return true;
    throw new UsageError(`refusing to delete ${plan.paths.length} checkpoint(s) chosen by filters without confirmation: stdin is not a terminal; pass -y`);
  }
  process.stderr.write(deleteSummary(plan) + '\n');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Are you sure you want to delete ${plan.paths.length} checkpoint(s)? [y/N]: `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export interface DeleteOutcome {
  deleted: string[];
  failed: Array<{ tinker_path: string; error: string }>;
}

/** Deletes every path (a few at a time); failures are collected, not thrown. */
export async function deletePaths(rest: RestClient, paths: string[], describe: (err: unknown) => string): Promise<DeleteOutcome> {
  const out: DeleteOutcome = { deleted: [], failed: [] };
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const p = paths[next++]!;
      try {
        await rest.deleteCheckpoint(p);
        out.deleted.push(p);
      } catch (err) {
        out.failed.push({ tinker_path: p, error: describe(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, paths.length) }, worker));
  const order = new Map(paths.map((p, i) => [p, i]));
  out.deleted.sort((a, b) => order.get(a)! - order.get(b)!);
  return out;
}

/** `--ttl N` (N ≥ 3600) or `--remove` (null: never expires). */
export function ttlOfArgs(args: ParsedArgs): number | null {
  const ttl = stringOption(args, 'ttl');
  const remove = flagOption(args, 'remove');
  if (ttl === undefined && !remove) throw new UsageError('give --ttl SECONDS or --remove');
  if (ttl !== undefined && remove) throw new UsageError('give either --ttl or --remove, not both');
  if (remove) return null;
  const max = REQUEST_LIMITS.maxTtlSeconds;
  if (!/^\d+$/.test(ttl!) || Number(ttl) < MIN_TTL_SECONDS || Number(ttl) > max) {
    throw new UsageError(`--ttl must be a whole number of seconds from ${MIN_TTL_SECONDS} (one hour) to ${max}, got ${JSON.stringify(ttl)}`);
  }
  return Number(ttl);
}
