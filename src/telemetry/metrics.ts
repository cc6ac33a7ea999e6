/**
 * Every kafscale metric is defined here, in one place, so names, units and label sets stay consistent
 * and reviewable. Names are `kafscale_*` with their unit (`_seconds`, `_bytes`, `_total`). Label values
 * must come from small, fixed sets (API keys, operation names, outcome words) — never topic names or
 * client ids, which are unbounded.
 *
 * A `KafscaleMetrics` owns its own Registry (not prom-client's global one), so tests and several
 * brokers in one process do not collide. Add new metrics as fields here, next to their neighbours.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface KafscaleMetricsOptions {
  /** Process and Node.js runtime metrics (CPU, memory, GC, event-loop lag), prefixed `kafscale_`. */
  readonly collectProcessMetrics?: boolean;
  /** Labels on every series, e.g. `{ broker_id: '1' }`. */
  readonly defaultLabels?: Readonly<Record<string, string>>;
}

/** Request latency: Kafka requests range from sub-millisecond (ApiVersions) to MaxWaitMs long polls. */
const REQUEST_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Object-store and metadata-store calls: a PUT to S3 takes tens of milliseconds, retries take seconds. */
const STORE_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const OBJECT_BYTES_BUCKETS = [1024, 16 * 1024, 128 * 1024, 1024 * 1024, 4 * 1024 * 1024, 8 * 1024 * 1024, 16 * 1024 * 1024, 64 * 1024 * 1024];

/** The API key label: the numeric key as a string, bounded to Kafka's range so garbage cannot add series. */
export function apiKeyLabel(apiKey: number): string {
  return Number.isInteger(apiKey) && apiKey >= 0 && apiKey < 200 ? String(apiKey) : 'invalid';
}

export class KafscaleMetrics {
  readonly registry: Registry;

  // Network layer (src/server).
  readonly connectionsActive: Gauge;
  readonly connectionsAcceptedTotal: Counter;
  readonly connectionsClosedTotal: Counter<'reason'>;
  readonly networkReceivedBytesTotal: Counter;
  readonly networkSentBytesTotal: Counter;
  readonly framesRejectedTotal: Counter<'reason'>;
  readonly requestsInFlight: Gauge;

  // Requests, by API key (src/server measures arrival to response written; src/broker counts errors).
  readonly requestsTotal: Counter<'api_key'>;
  readonly requestDurationSeconds: Histogram<'api_key'>;
  readonly requestErrorsTotal: Counter<'api_key' | 'error'>;

  // Storage (src/services/log flush pipeline, src/storage adapters).
  readonly flushDurationSeconds: Histogram;
  readonly flushObjectBytes: Histogram;
  readonly objectStoreRequestsTotal: Counter<'operation' | 'outcome'>;
  readonly objectStoreRequestDurationSeconds: Histogram<'operation'>;
  readonly metadataStoreRequestsTotal: Counter<'operation' | 'outcome'>;
  readonly metadataStoreRequestDurationSeconds: Histogram<'operation'>;

  constructor(options: KafscaleMetricsOptions = {}) {
    const registers = [(this.registry = new Registry())];
    if (options.defaultLabels !== undefined) this.registry.setDefaultLabels({ ...options.defaultLabels });
    if (options.collectProcessMetrics === true) {
      // Includes kafscale_nodejs_eventloop_lag_seconds and its percentiles: the first signal of a
      // blocked event loop (a synchronous hot path) on a broker.
      collectDefaultMetrics({ register: this.registry, prefix: 'kafscale_' });
    }

    this.connectionsActive = new Gauge({ name: 'kafscale_connections_active', help: 'Open Kafka client connections', registers });
    this.connectionsAcceptedTotal = new Counter({ name: 'kafscale_connections_accepted_total', help: 'Kafka client connections accepted', registers });
    this.connectionsClosedTotal = new Counter({
      name: 'kafscale_connections_closed_total',
      help: 'Kafka client connections closed, by reason (client, idle, error, frame, shutdown)',
      labelNames: ['reason'],
      registers,
    });
    this.networkReceivedBytesTotal = new Counter({ name: 'kafscale_network_received_bytes_total', help: 'Bytes read from Kafka client connections', registers });
    this.networkSentBytesTotal = new Counter({ name: 'kafscale_network_sent_bytes_total', help: 'Bytes written to Kafka client connections', registers });
    this.framesRejectedTotal = new Counter({
      name: 'kafscale_frames_rejected_total',
      help: 'Request frames rejected before decoding (too_large, malformed); each closes its connection',
      labelNames: ['reason'],
      registers,
    });
    this.requestsInFlight = new Gauge({ name: 'kafscale_requests_in_flight', help: 'Requests received whose response is not yet written', registers });

    this.requestsTotal = new Counter({ name: 'kafscale_requests_total', help: 'Kafka requests received, by API key', labelNames: ['api_key'], registers });
    this.requestDurationSeconds = new Histogram({
      name: 'kafscale_request_duration_seconds',
      help: 'Time from a request frame arriving to its response being written, by API key (includes long-poll waits)',
      labelNames: ['api_key'],
      buckets: REQUEST_SECONDS_BUCKETS,
      registers,
    });
    this.requestErrorsTotal = new Counter({
      name: 'kafscale_request_errors_total',
      help: 'Kafka error codes returned, by API key and error name',
      labelNames: ['api_key', 'error'],
      registers,
    });

    this.flushDurationSeconds = new Histogram({
      name: 'kafscale_flush_duration_seconds',
      help: 'One flush: WAL object PUT plus metadata commit',
      buckets: STORE_SECONDS_BUCKETS,
      registers,
    });
    this.flushObjectBytes = new Histogram({ name: 'kafscale_flush_object_bytes', help: 'Size of each WAL object written', buckets: OBJECT_BYTES_BUCKETS, registers });
    this.objectStoreRequestsTotal = new Counter({
      name: 'kafscale_object_store_requests_total',
      help: 'Object store calls, by operation (get, put, delete, list, head) and outcome (ok, error)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.objectStoreRequestDurationSeconds = new Histogram({
      name: 'kafscale_object_store_request_duration_seconds',
      help: 'Object store call latency, by operation',
      labelNames: ['operation'],
      buckets: STORE_SECONDS_BUCKETS,
      registers,
    });
    this.metadataStoreRequestsTotal = new Counter({
      name: 'kafscale_metadata_store_requests_total',
      help: 'Metadata store calls, by operation (get, range, put, delete, txn, lease) and outcome (ok, error)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.metadataStoreRequestDurationSeconds = new Histogram({
      name: 'kafscale_metadata_store_request_duration_seconds',
      help: 'Metadata store call latency, by operation',
      labelNames: ['operation'],
      buckets: STORE_SECONDS_BUCKETS,
      registers,
    });
  }

  /** Prometheus text exposition, for GET /metrics. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
