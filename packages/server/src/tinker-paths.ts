/**
 * tinker:// checkpoint paths as the server uses them: `tinker://<run_id>/<kind>/<name>`.
 * The rules (which also keep names safe as directory names) are the protocol package's;
 * this module only turns its ValidationError into the server's 400 naming the request field.
 */
import { checkCheckpointName as checkName, formatTinkerPath, parseTinkerPath, ValidationError } from '@tinker-ts/protocol';
import { BadRequestError } from './errors.js';
import type { CheckpointKind } from './store/rows.js';

export interface CheckpointAddress {
  runId: string;
  kind: CheckpointKind;
  name: string;
}

export function formatCheckpointPath(a: CheckpointAddress): string {
  return formatTinkerPath(a);
}

function asBadRequest<T>(field: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ValidationError) throw new BadRequestError(`${field}: ${e.message}`, { field });
    throw e;
  }
}

/** Checks a checkpoint name given by a client (it becomes a directory name). */
export function checkCheckpointName(name: string, field: string): string {
  return asBadRequest(field, () => checkName(name, field));
}

export function parseCheckpointPath(tinkerPath: string, field: string): CheckpointAddress {
  return asBadRequest(field, () => parseTinkerPath(tinkerPath, field));
}
