/**
 * `tinker://<run_id>/weights/<name>` (training state, may include optimizer)
 * and `tinker://<run_id>/sampler_weights/<name>` (weights for sampling).
 * Both parts become file-system names on a server, so they are restricted to
 * safe characters: no slashes, no `..`, nothing empty.
 */

import { ValidationError } from './errors.js';
import type { CheckpointType } from './types.js';

export type TinkerPathKind = 'weights' | 'sampler_weights';

export interface TinkerPath {
  runId: string;
  kind: TinkerPathKind;
  name: string;
}

export const TINKER_SCHEME = 'tinker://';

/** Run ids: letters, digits and `._:-` (hosted ids look like `<uuid>:train:0`). */
const RUN_ID = /^[A-Za-z0-9_][A-Za-z0-9._:-]{0,254}$/;
/** Checkpoint names: letters, digits and `._-:=+`, not starting with a dot. */
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._:=+-]{0,254}$/;

export function isSafeRunId(id: string): boolean {
  return RUN_ID.test(id) && !id.includes('..');
}

export function isSafeCheckpointName(name: string): boolean {
  return NAME.test(name) && !name.includes('..');
}

export function checkRunId(id: string, field = 'run_id'): string {
  if (typeof id !== 'string' || !isSafeRunId(id)) {
    throw new ValidationError(
      `invalid run id ${JSON.stringify(id)}: use 1-255 letters, digits or . _ : - (no "..")`,
      field,
    );
  }
  return id;
}

export function checkCheckpointName(name: string, field = 'path'): string {
  if (typeof name !== 'string' || !isSafeCheckpointName(name)) {
    throw new ValidationError(
      `invalid checkpoint name ${JSON.stringify(name)}: use 1-255 letters, digits or . _ - : = + (no "/", no leading ".", no "..")`,
      field,
    );
  }
  return name;
}

const ACCEPTED_FORMS = 'tinker://<run_id>/weights/<name> or tinker://<run_id>/sampler_weights/<name>';

/** The scheme, three parts and a known kind; what the parts contain is checked by the callers. */
function splitTinkerPath(path: string, field: string): TinkerPath {
  if (typeof path !== 'string') throw new ValidationError(`expected a tinker:// path (${ACCEPTED_FORMS}), got ${typeof path}`, field);
  if (!path.startsWith(TINKER_SCHEME)) {
    throw new ValidationError(`expected a path starting with tinker:// (${ACCEPTED_FORMS}), got ${JSON.stringify(path)}`, field);
  }
  const parts = path.slice(TINKER_SCHEME.length).split('/');
  if (parts.length !== 3) throw new ValidationError(`expected ${ACCEPTED_FORMS}, got ${JSON.stringify(path)}`, field);
  const [runId, kind, name] = parts as [string, string, string];
  if (kind !== 'weights' && kind !== 'sampler_weights') {
    throw new ValidationError(`path kind must be "weights" or "sampler_weights" (${ACCEPTED_FORMS}), got ${JSON.stringify(kind)}`, field);
  }
  return { runId, kind, name };
}

/**
 * The parts of a checkpoint path, checked for form only. What the run id and name may contain is
 * the server's to decide: clients address REST routes with these parts and leave the rest to it.
 */
export function parseTinkerPathForm(path: string, field = 'path'): TinkerPath {
  const p = splitTinkerPath(path, field);
  if (p.runId === '' || p.name === '') throw new ValidationError(`expected ${ACCEPTED_FORMS} with a run id and a name, got ${JSON.stringify(path)}`, field);
  return p;
}

/** Parse a checkpoint path whose parts a server can use as file names; throws ValidationError (on `field`) saying what is wrong. */
export function parseTinkerPath(path: string, field = 'path'): TinkerPath {
  const p = splitTinkerPath(path, field);
  checkRunId(p.runId, field);
  checkCheckpointName(p.name, field);
  return p;
}

export function formatTinkerPath(p: TinkerPath): string {
  checkRunId(p.runId);
  checkCheckpointName(p.name);
  if (p.kind !== 'weights' && p.kind !== 'sampler_weights') {
    throw new ValidationError(`path kind must be "weights" or "sampler_weights", got ${JSON.stringify(p.kind)}`, 'kind');
  }
  return `${TINKER_SCHEME}${p.runId}/${p.kind}/${p.name}`;
}

/** REST naming: 'weights' ⇄ 'training', 'sampler_weights' ⇄ 'sampler'. */
export function checkpointTypeOf(kind: TinkerPathKind): CheckpointType {
  return kind === 'weights' ? 'training' : 'sampler';
}

export function kindOfCheckpointType(type: CheckpointType): TinkerPathKind {
  return type === 'training' ? 'weights' : 'sampler_weights';
}

/** The REST `checkpoint_id` of a path, e.g. `weights/step-10`. */
export function checkpointIdOf(p: TinkerPath): string {
  return `${p.kind}/${p.name}`;
}

/** Parse a REST `checkpoint_id` (`weights/<name>` or `sampler_weights/<name>`). */
export function parseCheckpointId(id: string, field = 'checkpoint_id'): { kind: TinkerPathKind; name: string } {
  const slash = typeof id === 'string' ? id.indexOf('/') : -1;
  const kind = slash > 0 ? id.slice(0, slash) : '';
  if (kind !== 'weights' && kind !== 'sampler_weights') {
    throw new ValidationError(`expected weights/<name> or sampler_weights/<name>, got ${JSON.stringify(id)}`, field);
  }
  return { kind, name: checkCheckpointName(id.slice(slash + 1), field) };
}
