/**
 * AdapterLedger: a model is rebuilt after an engine crash only from a state known to be exactly
 * the one lost — its initialisation, or a checkpoint it was loaded from or saved to with no
 * training since — and a checkpoint counts only while it is the same directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AdapterLedger, type RestorePlan } from './adapter-ledger.js';

const lora = { rank: 4, seed: 3, train_mlp: true, train_attn: true, train_unembed: false };

function fate(plans: RestorePlan[], id: string): string {
  const p = plans.find((x) => x.adapterId === id)!;
  return 'lost' in p ? `lost: ${p.lost}` : p.restore.source.kind;
}

test('only states known exactly are rebuilt', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-ledger-'));
  try {
    const ckpt = path.join(root, 'ckpt');
    fs.mkdirSync(ckpt);
    const ledger = new AdapterLedger();
    for (const id of ['fresh', 'forwarded', 'stepped', 'saved', 'saved-with-gradients', 'loaded', 'replaced']) ledger.created(id, 'base', lora);

    ledger.trained('forwarded', true);
    ledger.trained('stepped', false);
    ledger.stepped('stepped');
    ledger.trained('saved', false);
    ledger.stepped('saved');
    await ledger.saved('saved', ckpt);
    ledger.trained('saved-with-gradients', false);
    await ledger.saved('saved-with-gradients', ckpt);
    await ledger.loaded('loaded', ckpt, false);
    const other = path.join(root, 'other');
    fs.mkdirSync(other);
    await ledger.loaded('replaced', other, true);
    // Replaced under the same name, as an overwriting save does.
    fs.renameSync(other, path.join(root, 'gone'));
    fs.mkdirSync(other);

    const plans = await ledger.plan();
    assert.equal(fate(plans, 'fresh'), 'init');
    assert.equal(fate(plans, 'forwarded'), 'init', 'a forward pass changes nothing');
    assert.match(fate(plans, 'stepped'), /lost: it was trained since its last checkpoint/);
    assert.equal(fate(plans, 'saved'), 'checkpoint');
    assert.match(fate(plans, 'saved-with-gradients'), /lost: .*gradients not yet applied/);
    assert.equal(fate(plans, 'loaded'), 'checkpoint');
    assert.match(fate(plans, 'replaced'), /lost: the checkpoint holding its state was deleted or replaced/);
    const loaded = plans.find((p) => p.adapterId === 'loaded')!;
    assert.ok('restore' in loaded && loaded.restore.source.kind === 'checkpoint' && loaded.restore.source.withOptimizer === false);

    ledger.dropped('fresh');
    assert.equal((await ledger.plan()).some((p) => p.adapterId === 'fresh'), false);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
