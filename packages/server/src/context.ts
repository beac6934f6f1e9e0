/**
 * What every route handler works with: the store, futures, queues, engine and checkpoint
 * files, plus the ownership lookups every route needs. A resource owned by another user is
 * answered exactly like a missing one (404), so ids of other users' objects reveal nothing.
 */
import type { CheckpointFiles } from './checkpoint-files.js';
import type { EngineModelInfo, EnginePort } from './engine-port.js';
import type { RequestLimits } from './limits.js';
import { BadRequestError, NotFoundError } from './errors.js';
import type { FutureRegistry } from './futures.js';
import type { ModelQueues } from './model-queue.js';
import type { Authenticator } from './router.js';
import type { Store } from './store.js';
import type { CheckpointKind, CheckpointRow, ModelRow, SamplingSessionRow, SessionRow } from './store/rows.js';
import { parseCheckpointPath } from './tinker-paths.js';
import { resolveModel, type ModelUse, type ResolvedModel } from './model-names.js';

export interface ServerSettings {
  /** How long retrieve_future waits for a result before answering try_again. */
  longPollMs: number;
  /** With allow_metadata_only, results larger than this are announced before being sent. */
  metadataOnlyThresholdBytes: number;
  /** Offer the create-via-load_weights path to clients (client/config flag). */
  createModelViaLoadWeights: boolean;
  /**
   * Ask clients to zstd-compress forward_backward bodies (client/config proto_compress_fwdbwd).
   * Compressed bodies are accepted either way; locally compression mostly costs client CPU.
   */
  compressForwardBackward: boolean;
  /**
   * A session with neither heartbeats nor model requests for this long is finished and its
   * models unloaded, so abandoned clients do not hold adapters forever. 0 = never.
   */
  sessionIdleTimeoutMs: number;
  /** Finished futures are kept (retrievable, and deduplicating resubmissions) this long. */
  futureRetentionMs: number;
  /**
   * Ephemeral sampler weights (save_weights_for_sampler without a path) unused — neither saved
   * nor sampled from — for this long are deleted, as they are when their session ends; their
   * sampling session then answers 404. 0 = only when the session ends.
   */
  ephemeralSamplerIdleMs: number;
  /**
   * fsync the database on every commit (SQLite synchronous=FULL) so acknowledged futures and
   * checkpoint records also survive a power loss. Off by default: with WAL and synchronous=NORMAL
   * a crashed or killed server process loses nothing it acknowledged, and each commit skips
   * an fsync (measured p99 ≈ 24 ms on this disk, on the request path).
   */
  syncEveryCommit: boolean;
  /**
   * How often a background thread copies the WAL into the database file (a checkpoint), so no
   * request's commit has to. 0 = SQLite's own checkpoints, run inside the commits.
   */
  walCheckpointIntervalMs: number;
  /**
   * Offer SDKs that have it (0.33+) the session-wide sample poll: client/config
   * `sample_use_retrieve_futures`, served by retrieve_futures.
   */
  sessionFuturesPoll: boolean;
}

export const DEFAULT_SETTINGS: Readonly<ServerSettings> = Object.freeze({
  longPollMs: 20_000,
  metadataOnlyThresholdBytes: 4 * 1024 * 1024,
  createModelViaLoadWeights: true,
  compressForwardBackward: false,
  sessionIdleTimeoutMs: 30 * 60_000,
  futureRetentionMs: 7 * 24 * 3600_000,
  ephemeralSamplerIdleMs: 10 * 60_000,
  syncEveryCommit: false,
  walCheckpointIntervalMs: 1000,
  sessionFuturesPoll: true,
});

export interface ServerContext {
  store: Store;
  futures: FutureRegistry;
  queues: ModelQueues;
  engine: EnginePort;
  /** `<dataDir>/checkpoints`: named, listed checkpoints. */
  checkpoints: CheckpointFiles;
  /** `<dataDir>/ephemeral`: sampler weights behind ephemeral sampling sessions. */
  ephemeral: CheckpointFiles;
  /** Base models the engine serves, fetched once at startup. */
  models: EngineModelInfo[];
  settings: ServerSettings;
  /** What one request may cost (body sizes, JSON depth, tokens per request). */
  limits: RequestLimits;
  clock: () => number;
  log: (line: string) => void;
  /** API key → user, as the router checks X-API-Key; also vouches for a `weights_access_token`. */
  authenticate?: Authenticator;
}

export function requireSession(ctx: ServerContext, user: string, sessionId: string): SessionRow {
  const s = ctx.store.sessions.get(sessionId);
  if (!s || s.owner !== user) throw new NotFoundError(`session ${sessionId} not found`);
  return s;
}

export function requireModel(ctx: ServerContext, user: string, modelId: string): ModelRow {
  const m = ctx.store.models.get(modelId);
  if (!m || m.owner !== user) throw new NotFoundError(`model ${modelId} not found`);
  return m;
}

export function requireSamplingSession(ctx: ServerContext, user: string, id: string): SamplingSessionRow {
  const s = ctx.store.samplingSessions.get(id);
  if (!s || s.owner !== user) throw new NotFoundError(`sampling session ${id} not found`);
  return s;
}

/** A base model id the server serves, suffixed variants included (see model-names.ts). */
export function requireBaseModel(ctx: ServerContext, name: string, field = 'base_model', use: ModelUse = 'sample'): ResolvedModel {
  return resolveModel(ctx, name, field, use);
}

/**
 * Resolves a tinker:// path to a checkpoint the user may read: their own, or a published one.
 * `kind` restricts which kind is acceptable.
 */
export function requireReadableCheckpoint(
  ctx: ServerContext,
  user: string,
  tinkerPath: string,
  kind: CheckpointKind | null,
  field: string,
): CheckpointRow {
  const parsed = parseCheckpointPath(tinkerPath, field);
  if (kind && parsed.kind !== kind) {
    const want = kind === 'weights' ? 'tinker://<run_id>/weights/<name> (a save_state checkpoint)' : 'tinker://<run_id>/sampler_weights/<name> (a save_weights_for_sampler checkpoint)';
    throw new BadRequestError(`${field} must be ${want}, got ${tinkerPath}`, { field });
  }
  const row = ctx.store.checkpoints.get(parsed.runId, parsed.kind, parsed.name);
  if (!row || (row.owner !== user && !row.public) || (row.expires_at !== null && row.expires_at <= ctx.clock())) {
    throw new NotFoundError(`checkpoint ${tinkerPath} not found`);
  }
  return row;
}
