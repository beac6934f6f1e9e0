/**
 * The newer REST client's checkpoint queries, over the caller's own live checkpoints:
 * - `POST checkpoints/search`: filter by project, user metadata, type and base model; newest
 *   first, paged by a cursor (the last page's created-at time and checkpoint id). Hosted's route
 *   for RestClient.search_checkpoints is not in the sources read here (only its request and
 *   response types are, from the 0.39 API reference); the body is that CheckpointSearchRequest.
 * - `GET billing/usage/checkpoints/current[?project_id=]`: active checkpoint storage grouped by
 *   project (the newer SDK's CurrentCheckpointStorageUsage types). Local storage is not billed,
 *   so the rate and the projected costs are null.
 */
import {
  CHECKPOINT_SEARCH_DEFAULT_LIMIT,
  checkpointSearchRequestSchema,
  parse,
  type CheckpointSearchCursor,
  type CheckpointSearchResponse,
  type CurrentCheckpointStorageUsageItem,
  type CurrentCheckpointStorageUsageResponse,
} from '@tinker-ts/protocol';
import type { ServerContext } from '../context.js';
import { BadRequestError } from '../errors.js';
import { defineRoute, json, type Route } from '../router.js';
import { RestQueries } from '../store/rest-queries.js';
import type { CheckpointRow } from '../store/rows.js';
import { formatCheckpointPath } from '../tinker-paths.js';
import { checkpointView, iso } from './rest-views.js';

/** Bytes per storage billing unit (decimal gigabytes). */
const BYTES_PER_GIGABYTE = 1e9;

const pathOf = (row: CheckpointRow) => formatCheckpointPath({ runId: row.run_id, kind: row.kind, name: row.name });

/** Newest first; ties in time by tinker path, descending (what a cursor continues from). */
function newerFirst(a: { created: number; path: string }, b: { created: number; path: string }): number {
  if (a.created !== b.created) return b.created - a.created;
  return a.path < b.path ? 1 : a.path > b.path ? -1 : 0;
}

export function checkpointSearchRoutes(ctx: ServerContext): Route[] {
  const q = new RestQueries(ctx.store);
  return [
    defineRoute({
      method: 'POST',
      path: '/api/v1/checkpoints/search',
      body: (v) => parse(checkpointSearchRequestSchema, v ?? {}),
      handler: ({ user, body: req }) => {
        if (req.owner != null && req.owner !== user) {
          throw new BadRequestError('owner: this server searches only your own checkpoints; leave owner out', { field: 'owner' });
        }
        const kind = req.checkpoint_type === 'training' ? 'weights' : req.checkpoint_type === 'sampler' ? 'sampler_weights' : null;
        const metadata = Object.entries(req.user_metadata ?? {});
        const projects = req.project_ids ? new Set(req.project_ids) : null;
        const bases = req.base_models ? new Set(req.base_models) : null;
        const cursor = req.cursor ? { created: Date.parse(req.cursor.last_created_at), path: req.cursor.last_checkpoint_uuid } : null;
        const matches = q
          .checkpointsWithRunOf(user, ctx.clock())
          .filter(({ row, baseModel, projectId }) =>
            (kind === null || row.kind === kind) &&
            (projects === null || (projectId !== null && projects.has(projectId))) &&
            (bases === null || (baseModel !== null && bases.has(baseModel))) &&
            metadata.every(([k, v]) => row.user_metadata?.[k] === v),
          )
          .map((m) => ({ ...m, created: m.row.created_at, path: pathOf(m.row) }))
          .sort(newerFirst)
          .filter((m) => cursor === null || newerFirst(cursor, m) < 0);
        const limit = req.limit ?? CHECKPOINT_SEARCH_DEFAULT_LIMIT;
        const page = matches.slice(0, limit);
        const last = page[page.length - 1];
        const next: CheckpointSearchCursor | null =
          matches.length > limit && last ? { last_created_at: iso(last.created), last_checkpoint_uuid: last.path } : null;
        const res: CheckpointSearchResponse = { checkpoints: page.map((m) => checkpointView(m.row, m.baseModel)), next_cursor: next };
        return json(res);
      },
    }),
    {
      method: 'GET',
      path: '/api/v1/billing/usage/checkpoints/current',
      handler: ({ user, query }) => {
        const only = query.get('project_id');
        const groups = new Map<string | null, CurrentCheckpointStorageUsageItem>();
        for (const { row, projectId } of q.checkpointsWithRunOf(user, ctx.clock())) {
          if (only !== null && only !== '' && projectId !== only) continue;
          let g = groups.get(projectId);
          if (!g) {
            g = {
              project_id: projectId, org_user_urn: null, user_email: null, user_name: user,
              checkpoint_count: 0, size_bytes: 0, size_gigabytes: 0, estimated_monthly_cost_usd: null,
            };
            groups.set(projectId, g);
          }
          g.checkpoint_count += 1;
          g.size_bytes += row.size_bytes;
        }
        const data = [...groups.values()]
          .map((g) => ({ ...g, size_gigabytes: g.size_bytes / BYTES_PER_GIGABYTE }))
          .sort((a, b) => b.size_bytes - a.size_bytes);
        const res: CurrentCheckpointStorageUsageResponse = { effective_rate_usd_per_gigabyte_month: null, data };
        return json(res);
      },
    },
  ];
}
