/**
 * The metrics of `kafscale proxy` (src/proxy), in their own registry: a proxy process has no broker
 * metrics. Names follow metrics.ts: `kafscale_proxy_*` with units; label values from fixed sets.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { apiKeyLabel } from './metrics.ts';

const REQUEST_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface ProxyScrapeSources {
  /** Seconds since the last successful metadata refresh (Infinity before the first). */
  metadataAgeSeconds(): number;
  upstreamConnections(): number;
}

export class ProxyMetrics {
  readonly registry: Registry;
  readonly connectionsActive: Gauge;
  readonly connectionsClosedTotal: Counter<'reason'>;
  readonly requestsTotal: Counter<'api_key'>;
  readonly requestDurationSeconds: Histogram<'api_key'>;
  /** Requests the proxy could not answer; each closes the client connection (the client retries). */
  readonly requestFailuresTotal: Counter<'api_key'>;
  readonly retriesTotal: Counter<'reason'>;
  readonly metadataRefreshesTotal: Counter<'outcome'>;
  readonly metadataAgeSeconds: Gauge;
  readonly upstreamConnections: Gauge;
  #sources: ProxyScrapeSources | null = null;

  constructor(options: { readonly collectProcessMetrics?: boolean } = {}) {
    const registers = [(this.registry = new Registry())];
    if (options.collectProcessMetrics === true) collectDefaultMetrics({ register: this.registry, prefix: 'kafscale_proxy_' });
    this.connectionsActive = new Gauge({ name: 'kafscale_proxy_connections_active', help: 'Open client connections to the proxy', registers });
    this.connectionsClosedTotal = new Counter({
      name: 'kafscale_proxy_connections_closed_total',
      help: 'Client connections closed, by reason (client, error, frame, shutdown)',
      labelNames: ['reason'],
      registers,
    });
    this.requestsTotal = new Counter({ name: 'kafscale_proxy_requests_total', help: 'Requests received by the proxy, by API key', labelNames: ['api_key'], registers });
    this.requestDurationSeconds = new Histogram({
      name: 'kafscale_proxy_request_duration_seconds',
      help: 'Time from a request arriving at the proxy to its response being written, by API key',
      labelNames: ['api_key'],
      buckets: REQUEST_SECONDS_BUCKETS,
      registers,
    });
    this.requestFailuresTotal = new Counter({
      name: 'kafscale_proxy_request_failures_total',
      help: 'Requests the proxy could not answer (the client connection is closed), by API key',
      labelNames: ['api_key'],
      registers,
    });
    this.retriesTotal = new Counter({
      name: 'kafscale_proxy_retries_total',
      help: 'Requests the proxy sent again on a client\'s behalf, by reason (moved, coordinator, connection)',
      labelNames: ['reason'],
      registers,
    });
    this.metadataRefreshesTotal = new Counter({
      name: 'kafscale_proxy_metadata_refreshes_total',
      help: 'Metadata refreshes from the brokers, by outcome (ok, error)',
      labelNames: ['outcome'],
      registers,
    });
    const self = this;
    this.metadataAgeSeconds = new Gauge({
      name: 'kafscale_proxy_metadata_age_seconds',
      help: 'Seconds since the proxy last refreshed its metadata from a broker (-1: never)',
      registers,
      collect() {
        const age = self.#sources?.metadataAgeSeconds() ?? Number.POSITIVE_INFINITY;
        this.set(Number.isFinite(age) ? age : -1);
      },
    });
    this.upstreamConnections = new Gauge({
      name: 'kafscale_proxy_upstream_connections',
      help: 'Open connections from the proxy to brokers',
      registers,
      collect() {
        this.set(self.#sources?.upstreamConnections() ?? 0);
      },
    });
  }

  setSources(sources: ProxyScrapeSources): void {
    this.#sources = sources;
  }

  observeRequest(apiKey: number, seconds: number): void {
    const label = apiKeyLabel(apiKey);
    this.requestsTotal.inc({ api_key: label });
    this.requestDurationSeconds.observe({ api_key: label }, seconds);
  }
}
