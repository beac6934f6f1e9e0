/**
 * The newer REST client's checkpoint queries: a search across the caller's checkpoints by
 * metadata, type and base model, paged by a cursor; and the current checkpoint storage usage
 * (`GET billing/usage/checkpoints/current[?project_id=]`).
 *
 * Field names follow tinker 0.39's CheckpointSearchRequest / CheckpointSearchResponse /
 * CheckpointSearchCursor (known from its API reference only) and the newer SDK source of
 * CurrentCheckpointStorageUsageRequest / Response.
 */
import { ValidationError } from './errors.js';
import { int, literal, nullable, object, optional, record, refine, string, array, type Schema } from './schema.js';
import type { Checkpoint, CheckpointType } from './types.js';

/** Where the next page starts; a response's `next_cursor`, passed back unchanged. */
export interface CheckpointSearchCursor {
  /** ISO 8601 with a time zone. */
  last_created_at: string;
  last_checkpoint_uuid: string;
}

export interface CheckpointSearchRequest {
  /** Projects to search; null searches every project. */
  project_ids?: string[] | null;
  /** Exact key/value matches; every pair must hold. */
  user_metadata?: Record<string, string>;
  checkpoint_type?: CheckpointType | null;
  /** Whose checkpoints; null or absent: the caller's own. */
  owner?: string | null;
  /** Any of these base models; null matches every one, an empty list none. */
  base_models?: string[] | null;
  /** Page size, 1 to 200. */
  limit?: number;
  cursor?: CheckpointSearchCursor | null;
}

export interface CheckpointSearchResponse {
  /** Newest first. */
  checkpoints: Checkpoint[];
  next_cursor: CheckpointSearchCursor | null;
}

export const CHECKPOINT_SEARCH_MAX_LIMIT = 200;
export const CHECKPOINT_SEARCH_DEFAULT_LIMIT = 50;

const MAX_FILTER_ITEMS = 100;

const isoWithZone = refine(string({ maxLength: 64 }), (v, path) => {
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(v) || Number.isNaN(Date.parse(v))) {
    throw new ValidationError(`must be an ISO 8601 time with a time zone (as in a next_cursor), got ${JSON.stringify(v)}`, path);
  }
});

export const checkpointSearchRequestSchema: Schema<CheckpointSearchRequest> = object({
  project_ids: optional(nullable(array(string({ maxLength: 200 }), { maxLength: MAX_FILTER_ITEMS }))),
  user_metadata: optional(record(string({ maxLength: 4096 }), { maxKeys: MAX_FILTER_ITEMS })),
  checkpoint_type: optional(nullable(literal('training', 'sampler'))),
  owner: optional(nullable(string({ maxLength: 200 }))),
  base_models: optional(nullable(array(string({ maxLength: 400 }), { maxLength: MAX_FILTER_ITEMS }))),
  limit: optional(int({ min: 1, max: CHECKPOINT_SEARCH_MAX_LIMIT })),
  cursor: optional(nullable(object({ last_created_at: isoWithZone, last_checkpoint_uuid: string({ maxLength: 1000 }) }))),
});

/** Active checkpoint storage attributed through a session (one project and owner). */
export interface CurrentCheckpointStorageUsageItem {
  project_id: string | null;
  org_user_urn: string | null;
  user_email: string | null;
  user_name: string | null;
  checkpoint_count: number;
  size_bytes: number;
  /** size_bytes in the storage billing unit. */
  size_gigabytes: number;
  /** Projected 720-hour cost at the current rate; null when storage is not billed. */
  estimated_monthly_cost_usd: number | null;
}

export interface CurrentCheckpointStorageUsageResponse {
  /** Null when storage is not billed. */
  effective_rate_usd_per_gigabyte_month: number | null;
  data: CurrentCheckpointStorageUsageItem[];
}
