/**
 * What the server needs to rebuild each training model in a new engine process after the old
 * one died: its base model, its LoRA settings (with the seed its weights were initialised from)
 * and where its current state can be read back from — its initialisation, or a checkpoint
 * directory it was loaded from or saved to — and whether it has changed since.
 *
 * The state is only ever rebuilt when it is known to be exactly the state the engine lost:
 * right after creation, after a load, or after a save (save_weights, which includes the
 * optimizer state) with no gradients accumulated. Once an optim_step or a forward_backward has
 * finished since, the state lives only in the engine's memory; keeping a copy of it after every
 * step would put a write of the whole adapter and optimizer state on every training step, so
 * such a model is reported lost instead: its requests then fail saying so and name its last
 * checkpoint, as after a restart of the whole server, and it never trains on other weights.
 */
import fsp from 'node:fs/promises';
import type { OptimizerKind } from '@tinker-ts/protocol';
import type { EngineLoraSettings } from './engine-port.js';

/** Where an adapter's state can be read back from. */
export type AdapterSource =
  | { kind: 'init' }
  /** `inode` identifies the directory: checkpoints are never rewritten in place, only replaced. */
  | { kind: 'checkpoint'; dir: string; withOptimizer: boolean; inode: number };

interface AdapterRecord {
  baseModel: string;
  lora: EngineLoraSettings;
  /** The optimizer it was created with: a rebuilt adapter keeps it. */
  optimizer: OptimizerKind;
  source: AdapterSource;
  /** An optim_step changed the weights since `source`. */
  stepped: boolean;
  /** A forward_backward accumulated gradients not yet applied (they are in no checkpoint). */
  gradients: boolean;
}

/** One adapter's fate in a new engine process. */
export type RestorePlan =
  | { adapterId: string; restore: { baseModel: string; lora: EngineLoraSettings; optimizer: OptimizerKind; source: AdapterSource } }
  | { adapterId: string; lost: string };

async function inodeOf(dir: string): Promise<number | null> {
  try {
    return (await fsp.stat(dir)).ino;
  } catch {
    return null;
  }
}

export class AdapterLedger {
  private readonly adapters = new Map<string, AdapterRecord>();

  /** The adapter exists, initialised from `lora.seed`. */
  created(adapterId: string, baseModel: string, lora: EngineLoraSettings, optimizer: OptimizerKind = 'adamw'): void {
    this.adapters.set(adapterId, { baseModel, lora, optimizer, source: { kind: 'init' }, stepped: false, gradients: false });
  }

  /** A state was loaded (replacing weights, moments and gradients). */
  async loaded(adapterId: string, dir: string, withOptimizer: boolean): Promise<void> {
    const a = this.adapters.get(adapterId);
    if (!a) return;
    const inode = await inodeOf(dir);
    a.source = inode === null ? { kind: 'init' } : { kind: 'checkpoint', dir, withOptimizer, inode };
    // A directory that vanished at once cannot be read back: count the state as changed.
    a.stepped = inode === null;
    a.gradients = false;
  }

  /** A training pass ran (or failed part-way: its gradients may be partly accumulated). */
  trained(adapterId: string, forwardOnly: boolean): void {
    const a = this.adapters.get(adapterId);
    if (a && !forwardOnly) a.gradients = true;
  }

  /** An optimizer step ran (it also zeroes the gradients). */
  stepped(adapterId: string): void {
    const a = this.adapters.get(adapterId);
    if (!a) return;
    a.stepped = true;
    a.gradients = false;
  }

  /**
   * The full training state (with the optimizer) was saved to `dir` and recorded. Pending
   * gradients are not part of a checkpoint, so with them the state stays unrestorable.
   */
  async saved(adapterId: string, dir: string): Promise<void> {
    const a = this.adapters.get(adapterId);
    if (!a || a.gradients) return;
    const inode = await inodeOf(dir);
    if (inode === null) return;
    a.source = { kind: 'checkpoint', dir, withOptimizer: true, inode };
    a.stepped = false;
  }

  dropped(adapterId: string): void {
    this.adapters.delete(adapterId);
  }

  ids(): string[] {
    return [...this.adapters.keys()];
  }

  /**
   * For every adapter: how to rebuild it, or why it cannot be. A checkpoint directory counts
   * only if it is still the one recorded (not deleted or replaced since).
   */
  async plan(): Promise<RestorePlan[]> {
    const plans: RestorePlan[] = [];
    for (const [adapterId, a] of this.adapters) {
      if (a.stepped || a.gradients) {
        plans.push({ adapterId, lost: a.stepped ? 'it was trained since its last checkpoint' : 'it had gradients not yet applied' });
      } else if (a.source.kind === 'checkpoint' && (await inodeOf(a.source.dir)) !== a.source.inode) {
        plans.push({ adapterId, lost: 'the checkpoint holding its state was deleted or replaced' });
      } else {
        plans.push({ adapterId, restore: { baseModel: a.baseModel, lora: a.lora, optimizer: a.optimizer, source: a.source } });
      }
    }
    return plans;
  }
}
