// Checkpoint search and storage usage as RestClient returns them (camelCase over the wire's
// CheckpointSearchResponse and CurrentCheckpointStorageUsageResponse).
import type * as wire from '@tinker-ts/protocol';
import { checkpointFromWire, type Checkpoint, type CheckpointType } from './types.js';

/** Where the next page starts: pass a page's `nextCursor` back unchanged. */
export interface CheckpointSearchCursor {
  lastCreatedAt: string;
  lastCheckpointUuid: string;
}

export interface SearchCheckpointsOptions {
  /** Projects to search (default: every project). */
  projectIds?: string[];
  /** Exact key/value matches on the checkpoint's user metadata; every pair must hold. */
  userMetadata?: Record<string, string>;
  checkpointType?: CheckpointType;
  /** Any of these base models (default: every base model; an empty list matches none). */
  baseModels?: string[];
  /** Page size, 1 to 200. */
  limit?: number;
  cursor?: CheckpointSearchCursor | null;
}

export interface CheckpointSearchPage {
  /** Newest first. */
  checkpoints: Checkpoint[];
  /** null once the results are exhausted. */
  nextCursor: CheckpointSearchCursor | null;
}

export function searchRequestToWire(o: SearchCheckpointsOptions): wire.CheckpointSearchRequest {
  const body: wire.CheckpointSearchRequest = {};
  if (o.projectIds !== undefined) body.project_ids = o.projectIds;
  if (o.userMetadata !== undefined) body.user_metadata = o.userMetadata;
  if (o.checkpointType !== undefined) body.checkpoint_type = o.checkpointType;
  if (o.baseModels !== undefined) body.base_models = o.baseModels;
  if (o.limit !== undefined) body.limit = o.limit;
  if (o.cursor) body.cursor = { last_created_at: o.cursor.lastCreatedAt, last_checkpoint_uuid: o.cursor.lastCheckpointUuid };
  return body;
}

export function searchPageFromWire(w: wire.CheckpointSearchResponse): CheckpointSearchPage {
  return {
    checkpoints: w.checkpoints.map(checkpointFromWire),
    nextCursor: w.next_cursor ? { lastCreatedAt: w.next_cursor.last_created_at, lastCheckpointUuid: w.next_cursor.last_checkpoint_uuid } : null,
  };
}

/** Active checkpoint storage of one project and owner. */
export interface CheckpointStorageUsageItem {
  projectId: string | null;
  orgUserUrn: string | null;
  userEmail: string | null;
  userName: string | null;
  checkpointCount: number;
  sizeBytes: number;
  sizeGigabytes: number;
  /** null where storage is not billed. */
  estimatedMonthlyCostUsd: number | null;
}

export interface CheckpointStorageUsage {
  /** null where storage is not billed. */
  effectiveRateUsdPerGigabyteMonth: number | null;
  data: CheckpointStorageUsageItem[];
}

export function storageUsageFromWire(w: wire.CurrentCheckpointStorageUsageResponse): CheckpointStorageUsage {
  return {
    effectiveRateUsdPerGigabyteMonth: w.effective_rate_usd_per_gigabyte_month ?? null,
    data: w.data.map((d) => ({
      projectId: d.project_id ?? null,
      orgUserUrn: d.org_user_urn ?? null,
      userEmail: d.user_email ?? null,
      userName: d.user_name ?? null,
      checkpointCount: d.checkpoint_count,
      sizeBytes: d.size_bytes,
      sizeGigabytes: d.size_gigabytes,
      estimatedMonthlyCostUsd: d.estimated_monthly_cost_usd ?? null,
    })),
  };
}
