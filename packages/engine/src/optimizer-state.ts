/**
 * Which optimizer state an adapter keeps, by the optimizer it was created with: AdamW's two
 * moments, or Dimuon's momentum. A fresh state (creation, or a load without the optimizer) is
 * all zeros with the step count at 0, as a new torch optimizer would start.
 */
import { zerosLike } from './lora.js';
import type { AdapterState, OptimizerKind } from './model-types.js';
import { EngineUserError } from './errors.js';

export const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['adamw', 'dimuon'];

export function optimizerOf(state: Pick<AdapterState, 'optimizer'>): OptimizerKind {
  return state.optimizer ?? 'adamw';
}

/** Readable name of a family, for messages. */
export function optimizerName(kind: OptimizerKind): string {
  return kind === 'dimuon' ? 'Dimuon' : 'AdamW';
}

export function checkOptimizerKind(kind: unknown): OptimizerKind {
  if (!OPTIMIZER_KINDS.includes(kind as OptimizerKind)) {
    throw new EngineUserError(`unknown optimizer ${JSON.stringify(kind)}; expected one of ${OPTIMIZER_KINDS.join(', ')}`);
  }
  return kind as OptimizerKind;
}

/** Zeroes the optimizer state of `state`'s kind (allocating it for the current params) and resets the step. */
export function resetOptimizerState(state: AdapterState): void {
  if (optimizerOf(state) === 'dimuon') {
    state.adamM = new Map();
    state.adamV = new Map();
    state.dimuonMomentum = zerosLike(state.params);
  } else {
    state.adamM = zerosLike(state.params);
    state.adamV = zerosLike(state.params);
    delete state.dimuonMomentum;
  }
  state.step = 0;
}
