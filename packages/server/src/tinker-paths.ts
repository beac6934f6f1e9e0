/**
 * tinker:// checkpoint paths as the server uses them: `tinker://<run_id>/<kind>/<name>`.
 * The rules (which also keep names safe as directory names) are the protocol package's; its
 * ValidationError (category "user", naming the request field) is answered as a 400 as it is.
 */
import { checkCheckpointName as checkName, formatTinkerPath, parseTinkerPath } from '@tinker-ts/protocol';
import type { CheckpointKind } from './store/rows.js';

export interface CheckpointAddress {
  runId: string;
  kind: CheckpointKind;
  name: string;
}

export function formatCheckpointPath(a: CheckpointAddress): string {
  return formatTinkerPath(a);
}

/** Checks a checkpoint name given by a client (it becomes a directory name). */
export function checkCheckpointName(name: string, field: string): string {
  return checkName(name, field);
}

export function parseCheckpointPath(tinkerPath: string, field: string): CheckpointAddress {
  return parseTinkerPath(tinkerPath, field);
}
