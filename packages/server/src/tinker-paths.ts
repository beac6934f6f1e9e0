/**
 * tinker:// checkpoint paths as the server uses them: `tinker://<run_id>/<kind>/<name>`,
 * with errors that name the request field. Names become directory names, so they are
 * restricted to safe characters.
 */
import { BadRequestError } from './errors.js';
import type { CheckpointKind } from './store.js';

const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:=+-]{0,199}$/;

export interface CheckpointAddress {
  runId: string;
  kind: CheckpointKind;
  name: string;
}

export function formatCheckpointPath(a: CheckpointAddress): string {
  return `tinker://${a.runId}/${a.kind}/${a.name}`;
}

/** Checks a checkpoint name given by a client (it becomes a directory name). */
export function checkCheckpointName(name: string, field: string): string {
  if (!SAFE_NAME.test(name) || name.includes('..')) {
    throw new BadRequestError(
      `${field}: invalid checkpoint name ${JSON.stringify(name)}; use 1-200 letters, digits, '_', '-', '.', ':', '=', '+' ` +
        `(no '/', no '..', not starting with '.' or '-')`,
      { field },
    );
  }
  return name;
}

export function parseCheckpointPath(tinkerPath: string, field: string): CheckpointAddress {
  const bad = (why: string): never => {
    throw new BadRequestError(
      `${field}: ${why}; expected tinker://<run_id>/weights/<name> or tinker://<run_id>/sampler_weights/<name>, got ${JSON.stringify(tinkerPath)}`,
      { field },
    );
  };
  if (!tinkerPath.startsWith('tinker://')) bad('not a tinker:// path');
  const parts = tinkerPath.slice('tinker://'.length).split('/');
  if (parts.length !== 3) bad('wrong number of path segments');
  const [runId, kind, name] = parts as [string, string, string];
  if (kind !== 'weights' && kind !== 'sampler_weights') bad(`unknown checkpoint kind ${JSON.stringify(kind)}`);
  if (!SAFE_NAME.test(runId) || runId.includes('..')) bad('invalid run id');
  if (!SAFE_NAME.test(name) || name.includes('..')) bad('invalid checkpoint name');
  return { runId, kind: kind as CheckpointKind, name };
}
