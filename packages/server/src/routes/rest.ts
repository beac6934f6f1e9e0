/**
 * The REST surface (the official SDK's RestClient and CLI): training runs, their checkpoints
 * (list, delete, publish, TTL, archive download), sessions and samplers.
 *
 * Everything is owner-scoped: another user's run, checkpoint, session or sampler answers 404
 * exactly like a missing one. Published checkpoints (and the runs holding them, with
 * `access_scope=accessible`) are readable by every user, never writable.
 *
 * A checkpoint id is `weights/<name>` or `sampler_weights/<name>` and keeps its slash in the
 * URL (`.../checkpoints/weights/step-10/publish`), as the official SDK sends it; the encoded
 * form (`weights%2Fstep-10`) is accepted too.
 */
import { pipeline } from 'node:stream/promises';
import { checkpointTtlRequestSchema, parse } from '@tinker-ts/protocol';
import { requireSamplingSession, requireSession, type ServerContext } from '../context.js';
import { BadRequestError, HttpError, NotFoundError } from '../errors.js';
import { json, type Reply, type RequestContext, type Route } from '../router.js';
import type { CheckpointKind, CheckpointRow, ModelRow } from '../store/rows.js';
import { formatCheckpointPath, parseCheckpointPath } from '../tinker-paths.js';
import { ARCHIVE_DOWNLOAD_PREFIX, ARCHIVE_LINK_TTL_MS, ArchiveSigner } from './rest-archive.js';
import { listTree, tarSize, tarStream } from '@tinker-ts/protocol/tar';
import { RestQueries } from '../store/rest-queries.js';
import { checkpointView, iso, trainingRunView } from './rest-views.js';

/** A feature of the hosted service this server does not have (404: never retried by clients). */
export class NotSupportedError extends HttpError {
  constructor(message: string) {
    super(404, 'not_supported', message);
  }
}

const MAX_PAGE = 1000;

export interface Page {
  limit: number;
  offset: number;
}

/** Reads `limit`/`offset` query parameters, with 400s that name the parameter. */
export function pageOf(query: URLSearchParams, defaultLimit: number): Page {
  const read = (name: string, dflt: number, min: number, max: number): number => {
    const raw = query.get(name);
    if (raw === null || raw === '') return dflt;
    if (!/^-?\d+$/.test(raw.trim())) throw new BadRequestError(`query parameter ${name} must be an integer, got ${JSON.stringify(raw)}`, { field: name });
    const v = Number(raw);
    if (v < min || v > max) throw new BadRequestError(`query parameter ${name} must be between ${min} and ${max}, got ${v}`, { field: name });
    return v;
  };
  return { limit: read('limit', defaultLimit, 1, MAX_PAGE), offset: read('offset', 0, 0, Number.MAX_SAFE_INTEGER) };
}

function accessScopeOf(query: URLSearchParams): 'owned' | 'accessible' {
  const s = query.get('access_scope') ?? 'owned';
  if (s !== 'owned' && s !== 'accessible') {
    throw new BadRequestError(`query parameter access_scope must be "owned" or "accessible", got ${JSON.stringify(s)}`, { field: 'access_scope' });
  }
  return s;
}

interface CheckpointAddress {
  runId: string;
  kind: CheckpointKind;
  name: string;
  tinkerPath: string;
}

/** Validates a run id and checkpoint id from the URL (they name directories: 400 if unsafe). */
function addressOf(runId: string, checkpointId: string): CheckpointAddress {
  const tinkerPath = `tinker://${runId}/${checkpointId}`;
  const slash = checkpointId.indexOf('/');
  const kind = slash > 0 ? checkpointId.slice(0, slash) : checkpointId;
  if (kind !== 'weights' && kind !== 'sampler_weights') {
    throw new BadRequestError(
      `checkpoint id must be weights/<name> or sampler_weights/<name>, got ${JSON.stringify(checkpointId)}`,
      { field: 'checkpoint_id' },
    );
  }
  const a = parseCheckpointPath(tinkerPath, 'checkpoint_id');
  return { ...a, tinkerPath: formatCheckpointPath(a) };
}

function checkRunId(runId: string): string {
  // Same rules as in a tinker:// path (the id names a directory).
  let ok = !runId.includes('/');
  if (ok) {
    try {
      parseCheckpointPath(`tinker://${runId}/weights/x`, 'training_run_id');
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    throw new BadRequestError(
      `invalid training run id ${JSON.stringify(runId)}: use letters, digits and . _ : = + - (no "/", no "..")`,
      { field: 'training_run_id' },
    );
  }
  return runId;
}

export function restRoutes(ctx: ServerContext): Route[] {
  const q = new RestQueries(ctx.store);
  const signer = new ArchiveSigner();
  /** A checkpoint with its run's base model. */
  const view = (row: CheckpointRow) => checkpointView(row, ctx.store.models.get(row.run_id)?.base_model ?? null);

  /** A run the user may read: their own, or (scope accessible) one holding a published checkpoint. */
  const readableRun = (user: string, runId: string, scope: 'owned' | 'accessible'): { model: ModelRow; owner: boolean } => {
    checkRunId(runId);
    const model = ctx.store.models.get(runId);
    if (model && model.owner === user) return { model, owner: true };
    if (model && scope === 'accessible' && q.hasPublicCheckpoint(runId, ctx.clock())) return { model, owner: false };
    throw new NotFoundError(`training run ${runId} not found`);
  };

  /** A live checkpoint; `write` = the caller must own it. Others' private checkpoints are 404. */
  const findCheckpoint = (user: string, a: CheckpointAddress, write: boolean): CheckpointRow => {
    const row = ctx.store.checkpoints.get(a.runId, a.kind, a.name);
    const live = row && (row.expires_at === null || row.expires_at > ctx.clock());
    if (!row || !live || (row.owner !== user && (write || !row.public))) {
      throw new NotFoundError(`checkpoint ${a.tinkerPath} not found`);
    }
    return row;
  };

  const listRunCheckpoints = ({ user, params, query }: RequestContext<unknown>): Reply => {
    const { owner } = readableRun(user, params.run_id!, 'accessible');
    const page = pageOf(query, 1000);
    const { rows, total } = q.checkpointsOfRun(params.run_id!, ctx.clock(), !owner, page.limit, page.offset);
    return json({ checkpoints: rows.map(view), cursor: { offset: page.offset, limit: page.limit, total_count: total } });
  };

  const deleteCheckpoint = async (user: string, a: CheckpointAddress): Promise<Reply> => {
    const row = findCheckpoint(user, a, true);
    // Record first: from now on it is neither listed nor loadable, even if removing files fails.
    ctx.store.checkpoints.delete(row.run_id, row.kind, row.name);
    try {
      await ctx.checkpoints.remove(row.path);
    } catch (err) {
      ctx.log(`could not delete files of checkpoint ${a.tinkerPath}: ${String(err)}`);
    }
    return json({ deleted: a.tinkerPath });
  };

  const archiveUrl = ({ user, headers }: RequestContext<unknown>, a: CheckpointAddress): Reply => {
    const row = findCheckpoint(user, a, false);
    const expiresAt = ctx.clock() + ARCHIVE_LINK_TTL_MS;
    const token = signer.sign({ runId: row.run_id, kind: row.kind, name: row.name, user, expiresAt });
    const host = headers.host ?? '127.0.0.1';
    const url = `http://${host}${ARCHIVE_DOWNLOAD_PREFIX}${token}`;
    const expires = new Date(expiresAt);
    const accept = String(headers.accept ?? '').toLowerCase();
    const body = { url, expires: expires.toISOString() };
    // The official SDK asks for the archive itself (Accept: application/gzip) and reads the
    // redirect; JSON clients get the link as a body.
    if (accept.includes('application/json') && !accept.includes('gzip')) return json(body);
    return { kind: 'json', status: 302, value: body, headers: { Location: url, Expires: expires.toUTCString() } };
  };

  const setPublic = (user: string, a: CheckpointAddress, isPublic: boolean): Reply => {
    findCheckpoint(user, a, true);
    ctx.store.checkpoints.setPublic(a.runId, a.kind, a.name, isPublic);
    return json({ tinker_path: a.tinkerPath, public: isPublic });
  };

  const setTtl = (user: string, a: CheckpointAddress, body: unknown): Reply => {
    const { ttl_seconds: ttl } = parse(checkpointTtlRequestSchema, body);
    findCheckpoint(user, a, true);
    const expiresAt = ttl === null ? null : ctx.clock() + ttl * 1000;
    ctx.store.checkpoints.setExpiry(a.runId, a.kind, a.name, expiresAt);
    return json({ tinker_path: a.tinkerPath, expires_at: expiresAt === null ? null : iso(expiresAt) });
  };

  /** `{checkpoint_id}/{action}` once the checkpoint is known. */
  const checkpointAction = (rc: RequestContext<unknown>, method: string, a: CheckpointAddress, action: string): Reply | Promise<Reply> => {
    if (action === 'archive' && method === 'GET') return archiveUrl(rc, a);
    if (action === 'publish' && method === 'POST') return setPublic(rc.user, a, true);
    if (action === 'publish' && method === 'DELETE') return setPublic(rc.user, a, false);
    if (action === 'ttl' && method === 'PUT') return setTtl(rc.user, a, rc.body);
    if (action === 'archive' || action === 'publish' || action === 'ttl') {
      const allowed = action === 'archive' ? 'GET' : action === 'publish' ? 'POST, DELETE' : 'PUT';
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on checkpoint ${action} (use ${allowed})`, { allowed: allowed.split(', ') });
    }
    throw new NotFoundError(`no checkpoint action ${JSON.stringify(action)} (archive, publish, ttl)`);
  };

  /**
   * `.../checkpoints/{a}/{b}`: either `{kind}/{name}` (the checkpoint itself, slash kept) or
   * `{encoded checkpoint id}/{action}`.
   */
  const twoSegments = (method: string) => (rc: RequestContext<unknown>): Reply | Promise<Reply> => {
    const { a, b, run_id } = rc.params as { a: string; b: string; run_id: string };
    checkRunId(run_id);
    if (a.includes('/')) return checkpointAction(rc, method, addressOf(run_id, a), b);
    const addr = addressOf(run_id, `${a}/${b}`);
    if (method === 'DELETE') return deleteCheckpoint(rc.user, addr);
    if (method === 'GET') return json(view(findCheckpoint(rc.user, addr, false)));
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on a checkpoint (use GET or DELETE)`, { allowed: ['GET', 'DELETE'] });
  };

  const threeSegments = (method: string) => (rc: RequestContext<unknown>): Reply | Promise<Reply> => {
    const { kind, name, action, run_id } = rc.params as Record<string, string>;
    checkRunId(run_id!);
    return checkpointAction(rc, method, addressOf(run_id!, `${kind}/${name}`), action!);
  };

  const anyBody = (v: unknown) => v;
  const CK = '/api/v1/training_runs/{run_id}/checkpoints';

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/api/v1/training_runs',
      handler: ({ user, query }) => {
        const page = pageOf(query, 20);
        accessScopeOf(query);
        const projectId = query.get('project_id') || null;
        const { ids, total } = q.runsOfOwner(user, projectId, page.limit, page.offset);
        const runs = ids.map((id) => ctx.store.models.get(id)).filter((m): m is ModelRow => m !== null);
        return json({
          training_runs: runs.map((m) => trainingRunView(ctx, q, m, false)),
          cursor: { offset: page.offset, limit: page.limit, total_count: total },
        });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/training_runs/{run_id}',
      handler: ({ user, params, query }) => {
        const { model, owner } = readableRun(user, params.run_id!, accessScopeOf(query));
        return json(trainingRunView(ctx, q, model, !owner));
      },
    },
    { method: 'GET', path: CK, handler: listRunCheckpoints },
    // Older SDKs list a run's checkpoints here.
    { method: 'GET', path: '/api/v1/models/{run_id}/checkpoints', handler: listRunCheckpoints },
    {
      method: 'GET',
      path: `${CK}/{checkpoint_id}`,
      handler: ({ user, params }) => json(view(findCheckpoint(user, addressOf(checkRunId(params.run_id!), params.checkpoint_id!), false))),
    },
    {
      method: 'DELETE',
      path: `${CK}/{checkpoint_id}`,
      body: anyBody,
      handler: ({ user, params }) => deleteCheckpoint(user, addressOf(checkRunId(params.run_id!), params.checkpoint_id!)),
    },
    ...(['GET', 'POST', 'PUT', 'DELETE'] as const).flatMap((method): Route[] => [
      { method, path: `${CK}/{a}/{b}`, ...(method === 'GET' ? {} : { body: anyBody }), handler: twoSegments(method) },
      { method, path: `${CK}/{kind}/{name}/{action}`, ...(method === 'GET' ? {} : { body: anyBody }), handler: threeSegments(method) },
    ]),
    {
      method: 'GET',
      path: `${ARCHIVE_DOWNLOAD_PREFIX}{token}`,
      // The signed token is the credential: download links work without an API key.
      auth: false,
      handler: async ({ params }) => {
        const grant = signer.verify(params.token!, ctx.clock());
        if ('invalid' in grant) throw new NotFoundError(grant.invalid);
        const tinkerPath = formatCheckpointPath(grant);
        const row = ctx.store.checkpoints.get(grant.runId, grant.kind, grant.name);
        const live = row && (row.expires_at === null || row.expires_at > ctx.clock());
        if (!row || !live || (row.owner !== grant.user && !row.public)) throw new NotFoundError(`checkpoint ${tinkerPath} not found`);
        let entries;
        try {
          entries = await listTree(row.path);
        } catch {
          throw new NotFoundError(`checkpoint ${tinkerPath} has no files on this server any more`);
        }
        const fileName = `${grant.runId}-${grant.kind}-${grant.name}.tar`.replace(/[^A-Za-z0-9._-]/g, '_');
        return {
          kind: 'stream',
          status: 200,
          headers: {
            'Content-Type': 'application/x-tar',
            'Content-Length': String(tarSize(entries)),
            'Content-Disposition': `attachment; filename="${fileName}"`,
          },
          write: (res) => pipeline(tarStream(entries), res),
        };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/checkpoints',
      handler: ({ user, query }) => {
        const page = pageOf(query, 100);
        const { rows, total } = q.checkpointsOfOwner(user, ctx.clock(), page.limit, page.offset);
        return json({ checkpoints: rows.map(view), cursor: { offset: page.offset, limit: page.limit, total_count: total } });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/sessions',
      handler: ({ user, query }) => {
        const page = pageOf(query, 20);
        accessScopeOf(query);
        const { rows, total } = ctx.store.sessions.list(user, page.limit, page.offset);
        return json({ sessions: rows.map((s) => s.session_id), cursor: { offset: page.offset, limit: page.limit, total_count: total } });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/sessions/{session_id}',
      handler: ({ user, params, query }) => {
        accessScopeOf(query);
        const s = requireSession(ctx, user, params.session_id!);
        return json({
          training_run_ids: ctx.store.models.ofSession(s.session_id).map((m) => m.model_id),
          sampler_ids: ctx.store.samplingSessions.ofSession(s.session_id).map((x) => x.sampling_session_id),
        });
      },
    },
    {
      method: 'PUT',
      path: '/api/v1/sessions/{session_id}/project',
      body: anyBody,
      handler: ({ user, params, body }) => {
        const s = requireSession(ctx, user, params.session_id!);
        const projectId = (body as { project_id?: unknown } | null)?.project_id;
        if (typeof projectId !== 'string' || projectId.length === 0 || projectId.length > 200) {
          throw new BadRequestError('body must be {"project_id": "<non-empty string of at most 200 characters>"}', { field: 'project_id' });
        }
        q.setSessionProject(s.session_id, projectId);
        return json({ session_id: s.session_id, project_id: projectId });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/samplers/{sampler_id}',
      handler: ({ user, params }) => {
        const s = requireSamplingSession(ctx, user, params.sampler_id!);
        return json({ sampler_id: s.sampling_session_id, base_model: s.base_model, model_path: s.model_path });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/audit',
      handler: () => {
        throw new NotSupportedError('the audit log is not offered by this server');
      },
    },
    ...(['GET', 'POST'] as const).map(
      (method): Route => ({
        method,
        path: '/api/v1/billing/usage/events',
        ...(method === 'POST' ? { body: anyBody } : {}),
        handler: () => {
          throw new NotSupportedError('billing is not offered by this server (local compute is not billed)');
        },
      }),
    ),
  ];
  return routes;
}
