/**
 * A training run's metrics (owner only; another user's run answers 404 like a missing one):
 *
 * - `GET /api/v1/training_runs/{run_id}/metrics?after=<id>&limit=<n>`: the server's record of
 *   every completed forward / forward_backward / optim_step and of the client's reports, oldest
 *   first; pollers pass the last `id` they saw as `after`.
 * - `POST /api/v1/training_runs/{run_id}/metrics` `{step, metrics}`: metrics the client computes
 *   itself (e.g. `kl_sample_train_v1`, the sampler/trainer logprob gap), shown beside the rest.
 */
import { requireModel, type ServerContext } from '../context.js';
import { BadRequestError } from '../errors.js';
import { defineRoute, json, type Route } from '../router.js';
import type { MetricsRecord } from '../store/training-metrics-table.js';

const MAX_RECORDS_PER_PAGE = 10_000;
const MAX_REPORTED_METRICS = 200;
const MAX_METRIC_NAME = 200;

interface MetricsReport {
  step: number;
  metrics: Record<string, number>;
}

function integerParam(query: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return dflt;
  const v = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new BadRequestError(`query parameter ${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`, { field: name });
  }
  return v;
}

/** Checks a `{step, metrics}` report: a step number and at most 200 named finite numbers. */
export function parseMetricsReport(value: unknown): MetricsReport {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestError('body must be {"step": <integer >= 0>, "metrics": {"<name>": <number>, ...}}');
  }
  const { step, metrics } = value as Record<string, unknown>;
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) {
    throw new BadRequestError(`step must be an integer >= 0, got ${JSON.stringify(step)}`, { field: 'step' });
  }
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
    throw new BadRequestError('metrics must be an object of metric name → number', { field: 'metrics' });
  }
  const entries = Object.entries(metrics);
  if (entries.length === 0 || entries.length > MAX_REPORTED_METRICS) {
    throw new BadRequestError(`metrics must hold between 1 and ${MAX_REPORTED_METRICS} entries, got ${entries.length}`, { field: 'metrics' });
  }
  for (const [name, v] of entries) {
    if (name.length === 0 || name.length > MAX_METRIC_NAME) {
      throw new BadRequestError(`metric names must be 1 to ${MAX_METRIC_NAME} characters`, { field: 'metrics' });
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new BadRequestError(`metrics.${name} must be a finite number, got ${JSON.stringify(v)}`, { field: `metrics.${name}` });
    }
  }
  return { step, metrics: metrics as Record<string, number> };
}

function recordView(r: MetricsRecord) {
  return {
    id: r.id,
    step: r.step,
    kind: r.kind,
    request_id: r.request_id,
    seq_id: r.seq_id,
    metrics: r.metrics,
    time: new Date(r.created_at).toISOString(),
  };
}

export function trainingMetricsRoutes(ctx: ServerContext): Route[] {
  const PATH = '/api/v1/training_runs/{run_id}/metrics';
  return [
    defineRoute({
      method: 'GET',
      path: PATH,
      handler: ({ user, params, query }) => {
        const model = requireModel(ctx, user, params.run_id!);
        const after = integerParam(query, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
        const limit = integerParam(query, 'limit', MAX_RECORDS_PER_PAGE, 1, MAX_RECORDS_PER_PAGE);
        const { rows, total } = ctx.store.trainingMetrics.ofRun(model.model_id, after, limit);
        return json({
          training_run_id: model.model_id,
          metrics: rows.map(recordView),
          optim_steps: ctx.store.trainingMetrics.optimSteps(model.model_id),
          total_count: total,
        });
      },
    }),
    defineRoute({
      method: 'POST',
      path: PATH,
      body: parseMetricsReport,
      handler: ({ user, params, body }) => {
        const model = requireModel(ctx, user, params.run_id!);
        ctx.store.trainingMetrics.insert({
          model_id: model.model_id,
          kind: 'reported',
          step: body.step,
          request_id: null,
          seq_id: null,
          metrics: body.metrics,
          created_at: ctx.clock(),
        });
        return json({ training_run_id: model.model_id, step: body.step, recorded: Object.keys(body.metrics).length });
      },
    }),
  ];
}
