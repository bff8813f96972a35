// Prometheus metrics of the API process, served at /metrics: requests and their latency by
// route and status, predictions by model and version, micro-batch sizes, model loads, and the
// process's own (event loop lag, memory, GC).
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Predictor, PredictorEvents, ViewReadiness } from './predictor.js';

export class ApiMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'mlops_http_requests_total',
    help: 'HTTP requests answered, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'mlops_http_request_duration_seconds',
    help: 'Time from request to response, by route and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });
  readonly predictions = new Counter({
    name: 'mlops_predictions_total',
    help: 'Rows predicted, by model and the version that answered',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'mlops_predict_batch_rows',
    help: 'Rows per micro-batch (one feature query and one onnxruntime call each), by model',
    labelNames: ['model'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });
  readonly modelLoads = new Counter({
    name: 'mlops_model_loads_total',
    help: 'Champion versions loaded (or that failed to load), by model, version and outcome',
    labelNames: ['model', 'version', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly viewRows = new Counter({
    name: 'mlops_feature_view_rows_total',
    help: 'Rows predicted whose feature view value was missing (the view’s default was used) or stale (older than its maxAge), by model, view and outcome',
    labelNames: ['model', 'view', 'outcome'] as const,
    registers: [this.registry],
  });
  private served: () => readonly (ViewReadiness & { model: string })[] = () => [];
  readonly snapshotAge = new Gauge({
    name: 'mlops_feature_snapshot_age_seconds',
    help: 'Seconds since the served snapshot of each feature view was materialized (-1: none yet), by model and view',
    labelNames: ['model', 'view'] as const,
    registers: [this.registry],
    collect: () => {
      this.snapshotAge.reset();
      for (const v of this.served()) this.snapshotAge.set({ model: v.model, view: v.view }, v.ageSeconds ?? -1);
    },
  });
  readonly snapshotStale = new Gauge({
    name: 'mlops_feature_snapshot_stale',
    help: '1 when the served snapshot of a feature view is older than the view’s maxAge or missing, by model and view',
    labelNames: ['model', 'view'] as const,
    registers: [this.registry],
    collect: () => {
      this.snapshotStale.reset();
      for (const v of this.served()) this.snapshotStale.set({ model: v.model, view: v.view }, v.stale ? 1 : 0);
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'mlops_api_' });
  }

  /** Where the snapshot gauges read the feature view snapshots served, at each scrape. */
  followSnapshots(served: () => readonly (ViewReadiness & { model: string })[]): void {
    this.served = served;
  }

  /** Count and time one answered request, by its route pattern (never the raw path: bounded labels). */
  record(route: string, method: string, status: number, startedMs: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.latency.observe({ route, method }, (performance.now() - startedMs) / 1000);
  }

  /** Middleware: record() every request Hono answers. */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const started = performance.now();
      try {
        await next();
      } finally {
        this.record(routeLabel(c), c.req.method, c.res.status, started);
      }
    };
  }
}

/** The predictor's events that feed the metrics (batch sizes, model loads, feature view rows), and its snapshots for the gauges. */
export function predictorMetrics(metrics: ApiMetrics): Omit<PredictorEvents, 'log'> & { follow(predictor: Predictor): void } {
  return {
    batch: (model, rows) => metrics.batchSize.observe({ model }, rows),
    loaded: (model, version, outcome) => metrics.modelLoads.inc({ model, version: String(version), outcome }),
    views: (model, view, missing, stale) => {
      if (missing) metrics.viewRows.inc({ model, view, outcome: 'missing' }, missing);
      if (stale) metrics.viewRows.inc({ model, view, outcome: 'stale' }, stale);
    },
    follow: (predictor) => metrics.followSnapshots(() => predictor.servedViews()),
  };
}

/** The matched route's pattern ('/models/:name'), or 'unmatched': never the raw path, so labels stay bounded. */
export function routeLabel(c: Context): string {
  const path = routePath(c, -1);
  return path === '*' || path === '/*' || !path ? 'unmatched' : path;
}
