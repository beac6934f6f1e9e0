// Queries and housekeeping over the REST routes: training runs, checkpoints, sessions, samplers.
// Lists are paginated by offset: await for the first page, or `for await` over every item.
import * as protocol from '@tinker-ts/protocol';
import type * as wire from '@tinker-ts/protocol';
import { ValidationError } from './errors.js';
import type { APIFuture } from './future.js';
import { fetchPage, type PageFuture } from './pagination.js';
import {
  searchPageFromWire,
  searchRequestToWire,
  storageUsageFromWire,
  type CheckpointSearchPage,
  type CheckpointStorageUsage,
  type SearchCheckpointsOptions,
} from './checkpoint-search.js';
import type { Runtime } from './runtime/runtime.js';
import type { CallOptions } from './runtime/options.js';
import {
  checkpointFromWire,
  cursorFromWire,
  samplerFromWire,
  trainingRunFromWire,
  protocolCheck,
  weightsInfoFromWire,
  type Checkpoint,
  type CheckpointType,
  type CheckpointArchiveUrlResponse,
  type GetSamplerResponse,
  type GetSessionResponse,
  type SessionTrace,
  type TrainingMetricsRecord,
  type TrainingRunMetrics,
  type TrainingRun,
  type WeightsInfoResponse,
} from './types.js';

export type AccessScope = 'owned' | 'accessible';

export interface ListOptions {
  limit?: number;
  offset?: number;
}

export interface ListTrainingRunsOptions extends ListOptions {
  /** 'owned' (default) or every run you can read. */
  accessScope?: AccessScope;
  projectId?: string;
}

export interface ListSessionsOptions extends ListOptions {
  accessScope?: AccessScope;
}

/** A checkpoint named by its tinker:// path. */
export interface CheckpointRef {
  trainingRunId: string;
  /** 'weights/<name>' or 'sampler_weights/<name>'. */
  checkpointId: string;
  checkpointType: CheckpointType;
}

/**
 * Splits `tinker://<run>/weights/<name>` or `tinker://<run>/sampler_weights/<name>` into the parts
 * the REST routes are addressed by; what the parts may contain is left to the server.
 */
export function parseCheckpointPath(path: string): CheckpointRef {
  const p = protocolCheck(() => protocol.parseTinkerPathForm(path, 'tinker_path'));
  return { trainingRunId: p.runId, checkpointId: protocol.checkpointIdOf(p), checkpointType: protocol.checkpointTypeOf(p.kind) };
}

export class RestClient {
  private readonly runtime: Runtime;

  /** @internal Made by ServiceClient.createRestClient(). */
  constructor(runtime: Runtime) {
    this.runtime = runtime;
  }

  listTrainingRuns(options: ListTrainingRunsOptions = {}, opts?: CallOptions): PageFuture<TrainingRun> {
    const { limit = 20, offset = 0, accessScope = 'owned', projectId } = options;
    return fetchPage(
      (req) =>
        this.get<wire.TrainingRunsResponse>('training_runs', { limit: req.limit, offset: req.offset, access_scope: accessScope, project_id: projectId }, opts).map(
          (res) => ({ items: res.training_runs.map(trainingRunFromWire), cursor: cursorFromWire(res.cursor) }),
        ),
      { limit, offset },
    );
  }

  getTrainingRun(trainingRunId: string, options: { accessScope?: AccessScope } = {}, opts?: CallOptions): APIFuture<TrainingRun> {
    return this.get<wire.TrainingRun>(`training_runs/${segment(trainingRunId, 'training_run_id')}`, { access_scope: options.accessScope ?? 'owned' }, opts).map(
      trainingRunFromWire,
    );
  }

  getTrainingRunByTinkerPath(tinkerPath: string, opts?: CallOptions): APIFuture<TrainingRun> {
    return this.getTrainingRun(parseCheckpointPath(tinkerPath).trainingRunId, {}, opts);
  }

  /** Base model and LoRA settings of a checkpoint. */
  getWeightsInfo(tinkerPath: string, opts?: CallOptions): APIFuture<WeightsInfoResponse> {
    parseCheckpointPath(tinkerPath);
    const body: wire.WeightsInfoRequest = { tinker_path: tinkerPath };
    return this.runtime.request<wire.WeightsInfoResponse>({ method: 'POST', path: 'weights_info', body }, opts).map(weightsInfoFromWire);
  }

  /** A run's checkpoints (training and sampler). */
  listCheckpoints(trainingRunId: string, options: ListOptions = {}, opts?: CallOptions): PageFuture<Checkpoint> {
    const path = `training_runs/${segment(trainingRunId, 'training_run_id')}/checkpoints`;
    return this.checkpointPages(path, options, opts);
  }

  /** Every checkpoint of every run you own, newest first. */
  listUserCheckpoints(options: ListOptions = {}, opts?: CallOptions): PageFuture<Checkpoint> {
    return this.checkpointPages('checkpoints', { limit: options.limit ?? 100, offset: options.offset ?? 0 }, opts);
  }

  /** Deletes a checkpoint, by tinker:// path or by run id and checkpoint id ('weights/<name>'). */
  deleteCheckpoint(pathOrRunId: string, checkpointId?: string, opts?: CallOptions): APIFuture<void> {
    return this.runtime
      .request<unknown>({ method: 'DELETE', path: checkpointRoute(pathOrRunId, checkpointId) }, opts)
      .map(() => undefined);
  }

  /** A signed URL to download the checkpoint's archive. */
  getCheckpointArchiveUrl(pathOrRunId: string, checkpointId?: string, opts?: CallOptions): APIFuture<CheckpointArchiveUrlResponse> {
    return this.runtime
      .request<wire.CheckpointArchiveUrlResponse>({ method: 'GET', path: `${checkpointRoute(pathOrRunId, checkpointId)}/archive` }, opts)
      .map((res) => ({ url: res.url, expires: new Date(res.expires) }));
  }

  /** Makes a checkpoint readable by others. */
  publishCheckpoint(tinkerPath: string, opts?: CallOptions): APIFuture<void> {
    return this.runtime.request<unknown>({ method: 'POST', path: `${checkpointRoute(tinkerPath)}/publish` }, opts).map(() => undefined);
  }

  unpublishCheckpoint(tinkerPath: string, opts?: CallOptions): APIFuture<void> {
    return this.runtime.request<unknown>({ method: 'DELETE', path: `${checkpointRoute(tinkerPath)}/publish` }, opts).map(() => undefined);
  }

  /** Expire the checkpoint `ttlSeconds` from now; null removes the expiry. */
  setCheckpointTtl(tinkerPath: string, ttlSeconds: number | null, opts?: CallOptions): APIFuture<void> {
    if (ttlSeconds !== null && (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)) {
      throw new ValidationError(`ttl_seconds: must be a positive integer or null, got ${JSON.stringify(ttlSeconds)}`, { field: 'ttl_seconds' });
    }
    const body: wire.CheckpointTtlRequest = { ttl_seconds: ttlSeconds };
    return this.runtime.request<unknown>({ method: 'PUT', path: `${checkpointRoute(tinkerPath)}/ttl`, body }, opts).map(() => undefined);
  }

  /** Your session ids, newest first. */
  listSessions(options: ListSessionsOptions = {}, opts?: CallOptions): PageFuture<string> {
    const { limit = 20, offset = 0, accessScope = 'owned' } = options;
    return fetchPage(
      (req) =>
        this.get<wire.ListSessionsResponse>('sessions', { limit: req.limit, offset: req.offset, access_scope: accessScope }, opts).map((res) => ({
          items: res.sessions,
          // The route returns no cursor: a full page means there may be more.
          more: res.sessions.length >= req.limit,
        })),
      { limit, offset },
    );
  }

  getSession(sessionId: string, options: { accessScope?: AccessScope } = {}, opts?: CallOptions): APIFuture<GetSessionResponse> {
    return this.get<wire.GetSessionResponse>(`sessions/${segment(sessionId, 'session_id')}`, { access_scope: options.accessScope ?? 'owned' }, opts).map(
      (res) => ({ trainingRunIds: res.training_run_ids, samplerIds: res.sampler_ids }),
    );
  }

  /**
   * The server's record of a run's metrics, oldest first: every completed forward,
   * forward_backward and optim_step result, and what reportMetrics sent. `after` (a record id)
   * gives only newer records. Served by tinker-ts servers.
   */
  getTrainingRunMetrics(trainingRunId: string, options: { after?: number; limit?: number } = {}, opts?: CallOptions): APIFuture<TrainingRunMetrics> {
    const query: Record<string, number> = {};
    if (options.after !== undefined) query['after'] = options.after;
    if (options.limit !== undefined) query['limit'] = options.limit;
    type Wire = {
      training_run_id: string;
      optim_steps: number;
      total_count: number;
      metrics: Array<{ id: number; step: number; kind: TrainingMetricsRecord['kind']; request_id: string | null; seq_id: number | null; metrics: Record<string, number>; time: string }>;
    };
    return this.get<Wire>(`training_runs/${segment(trainingRunId, 'training_run_id')}/metrics`, query, opts).map((res) => ({
      trainingRunId: res.training_run_id,
      optimSteps: res.optim_steps,
      totalCount: res.total_count,
      records: res.metrics.map((r) => ({
        id: r.id,
        step: r.step,
        kind: r.kind,
        requestId: r.request_id,
        seqId: r.seq_id,
        metrics: r.metrics,
        time: new Date(r.time),
      })),
    }));
  }

  /**
   * Records metrics a training loop computed itself for `step` (e.g. `kl_sample_train_v1`, the
   * sampler/trainer logprob gap): the dashboard shows them beside the server's. Served by
   * tinker-ts servers.
   */
  reportMetrics(trainingRunId: string, step: number, metrics: Record<string, number>, opts?: CallOptions): APIFuture<void> {
    if (!Number.isSafeInteger(step) || step < 0) throw new ValidationError(`step: must be an integer >= 0, got ${step}`, { field: 'step' });
    for (const [name, v] of Object.entries(metrics)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValidationError(`metrics.${name}: must be a finite number, got ${v}`, { field: `metrics.${name}` });
    }
    return this.runtime
      .request<unknown>({ method: 'POST', path: `training_runs/${segment(trainingRunId, 'training_run_id')}/metrics`, body: { step, metrics } }, opts)
      .map(() => undefined);
  }

  /** The session's requests (queued, running, result written, polled) as trace-event JSON for Perfetto. */
  exportSessionTrace(sessionId: string, opts?: CallOptions): APIFuture<SessionTrace> {
    return this.get<SessionTrace>(`sessions/${segment(sessionId, 'session_id')}/trace_export`, undefined, opts);
  }

  /**
   * Your checkpoints matching every given filter, newest first, one page at a time: pass
   * `nextCursor` as `cursor` for the next page (null once exhausted).
   */
  searchCheckpoints(options: SearchCheckpointsOptions = {}, opts?: CallOptions): APIFuture<CheckpointSearchPage> {
    const { limit } = options;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > protocol.CHECKPOINT_SEARCH_MAX_LIMIT)) {
      throw new ValidationError(`limit: must be an integer from 1 to ${protocol.CHECKPOINT_SEARCH_MAX_LIMIT}, got ${JSON.stringify(limit)}`, { field: 'limit' });
    }
    return this.runtime
      .request<wire.CheckpointSearchResponse>({ method: 'POST', path: 'checkpoints/search', body: searchRequestToWire(options) }, opts)
      .map(searchPageFromWire);
  }

  /** Checkpoint storage in use now, grouped by project (optionally of one project only). */
  getCurrentCheckpointStorageUsage(options: { projectId?: string } = {}, opts?: CallOptions): APIFuture<CheckpointStorageUsage> {
    const query = options.projectId !== undefined ? { project_id: options.projectId } : undefined;
    return this.get<wire.CurrentCheckpointStorageUsageResponse>('billing/usage/checkpoints/current', query, opts).map(storageUsageFromWire);
  }

  getSampler(samplerId: string, opts?: CallOptions): APIFuture<GetSamplerResponse> {
    return this.get<wire.GetSamplerResponse>(`samplers/${segment(samplerId, 'sampler_id')}`, undefined, opts).map(samplerFromWire);
  }

  private get<T>(path: string, query: Record<string, string | number | undefined> | undefined, opts?: CallOptions): APIFuture<T> {
    return this.runtime.request<T>(query ? { method: 'GET', path, query } : { method: 'GET', path }, opts);
  }

  private checkpointPages(path: string, options: ListOptions, opts?: CallOptions): PageFuture<Checkpoint> {
    const paged = options.limit !== undefined || options.offset !== undefined;
    return fetchPage(
      (req) =>
        this.get<wire.CheckpointsListResponse>(path, paged || req.offset > 0 ? { limit: req.limit, offset: req.offset } : undefined, opts).map((res) => ({
          items: res.checkpoints.map(checkpointFromWire),
          cursor: res.cursor ? cursorFromWire(res.cursor) : undefined,
        })),
      { limit: options.limit ?? 100, offset: options.offset ?? 0 },
    );
  }
}

/** Route of one checkpoint; the checkpoint id keeps its '/' (as in 'weights/step-10'). */
function checkpointRoute(pathOrRunId: string, checkpointId?: string): string {
  const ref = checkpointId === undefined
    ? parseCheckpointPath(pathOrRunId)
    : { trainingRunId: pathOrRunId, checkpointId };
  const id = ref.checkpointId.split('/').map((s) => segment(s, 'checkpoint_id')).join('/');
  return `training_runs/${segment(ref.trainingRunId, 'training_run_id')}/checkpoints/${id}`;
}

function segment(value: string, field: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ValidationError(`${field}: expected a non-empty string, got ${JSON.stringify(value)}`, { field });
  }
  return encodeURIComponent(value);
}
