// A training or forward batch as the model takes it: sequences packed into one token stream, with
// K target ids per position. Token ids are checked here, once, against the vocabulary.
import type { ModelConfig } from './model-types.js';
import { EngineUserError } from './errors.js';

/** Sequences packed into one token stream. */
export interface PackedBatch {
  tokens: Int32Array; // [T]
  positions: Int32Array; // [T], position of each token within its own sequence
  seqStarts: Int32Array; // [nSeq + 1]
  /** [T * K] target ids, K per position; -1 = padding (logprob 0, no gradient). */
  targets: Int32Array;
  K: number;
}

/** Packs sequences into a PackedBatch; `targets` of each has tokens.length * K entries. */
export function packSequences(cfg: ModelConfig, seqs: { tokens: ArrayLike<number>; targets: ArrayLike<number> }[], K: number): PackedBatch {
  let T = 0;
  for (const s of seqs) T += s.tokens.length;
  const tokens = new Int32Array(T);
  const positions = new Int32Array(T);
  const seqStarts = new Int32Array(seqs.length + 1);
  const targets = new Int32Array(T * K);
  let row = 0;
  seqs.forEach((s, i) => {
    const n = s.tokens.length;
    if (s.targets.length !== n * K) throw new EngineUserError(`sequence ${i}: ${s.targets.length} targets for ${n} positions × ${K}`);
    if (n > cfg.maxPositionEmbeddings) {
      throw new EngineUserError(`sequence ${i} has ${n} tokens but the model supports at most ${cfg.maxPositionEmbeddings}`);
    }
    for (let j = 0; j < n; j++) {
      tokens[row + j] = checkTokenId(cfg, s.tokens[j], `sequence ${i} token ${j}`);
      positions[row + j] = j;
    }
    for (let j = 0; j < n * K; j++) {
      const t = s.targets[j];
      targets[row * K + j] = t === -1 ? -1 : checkTokenId(cfg, t, `sequence ${i} target ${j}`);
    }
    row += n;
    seqStarts[i + 1] = row;
  });
  return { tokens, positions, seqStarts, targets, K };
}

/** A token id inside the vocabulary, or an EngineUserError naming `what`. */
export function checkTokenId(cfg: ModelConfig, id: number, what: string): number {
  if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) {
    throw new EngineUserError(`${what}: token id ${id} is outside the vocabulary [0, ${cfg.vocabSize})`);
  }
  return id;
}

