/**
 * Every kafscale metric is defined here, in one place, so names, units and label sets stay consistent
 * and reviewable. Names are `kafscale_*` with their unit (`_seconds`, `_bytes`, `_total`). Label values
 * must come from small, fixed sets (API keys, operation names, outcome words, Kafka error names) — never
 * client ids. Bounded exceptions: `topic` on the per-topic data counters (live topics only; removeTopic
 * drops a deleted topic's series) and the group-lag gauge (capped and rebuilt on every scrape).
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
const STORE_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const OBJECT_BYTES_BUCKETS = [1024, 16 * 1024, 128 * 1024, 1024 * 1024, 4 * 1024 * 1024, 8 * 1024 * 1024, 16 * 1024 * 1024, 64 * 1024 * 1024];

/** The API key label: the numeric key as a string, bounded to Kafka's range so garbage cannot add series. */
export function apiKeyLabel(apiKey: number): string {
  return Number.isInteger(apiKey) && apiKey >= 0 && apiKey < 200 ? String(apiKey) : 'invalid';
}

/**
 * Values read at scrape time (never on the request path): the app wires them to the current session's
 * log service and group coordinator. A source that throws leaves its series out of that scrape.
 */
export interface ScrapeSources {
  /** Range-cache counters of this broker's read path; null when there is no log service (yet). */
  cache(): {
    readonly hits: number;
    readonly misses: number;
    readonly bytes: number;
    /** Read-ahead (docs/design/read-ahead.md): GETs started, reads it served, bytes reserved now, bytes dropped unread. */
    readonly readAhead?: { readonly gets: number; readonly hits: number; readonly reservedBytes: number; readonly wastedBytes: number };
  } | null;
  /** Partitions this broker owns (writes to) now. */
  partitionsOwned(): number;
  /** Consumer groups this broker coordinates, counted by state, and their lag per partition (bounded). */
  groups(): Promise<GroupsSnapshot>;
  /** The incremental fetch session cache (KIP-227): sessions and partitions held, evictions since start. */
  fetchSessions?(): { readonly sessions: number; readonly partitions: number; readonly evictions: number };
  /** The write path's memory: produced bytes not yet committed (pending) and the owners' tails; null without a log service. */
  writeMemory?(): { readonly pendingBytes: number; readonly tailBytes: number } | null;
}

export interface GroupsSnapshot {
  readonly byState: Readonly<Record<string, number>>;
  readonly lag: readonly { readonly group: string; readonly topic: string; readonly partition: number; readonly lag: number }[];
}

/** Group states always exported (0 when none), so dashboards see every state. */
const GROUP_STATES = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable'] as const;

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
  readonly connectionsRejectedTotal: Counter<'reason'>;
  readonly queuedRequestBytes: Gauge;
  readonly requestBudgetWaitsTotal: Counter;

  // Security (src/server TLS listeners, src/services/security SASL; never user names or passwords).
  readonly tlsHandshakeFailuresTotal: Counter;
  readonly saslAuthenticationsTotal: Counter<'mechanism' | 'outcome'>;
  readonly opsRequestsUnauthorizedTotal: Counter;

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
  readonly flushesTotal: Counter<'outcome'>;

  // Data in and out per topic (src/app records them from Produce/Fetch; series of deleted topics are removed).
  readonly topicBytesInTotal: Counter<'topic'>;
  readonly topicRecordsInTotal: Counter<'topic'>;
  readonly topicBytesOutTotal: Counter<'topic'>;
  readonly topicRecordsOutTotal: Counter<'topic'>;

  // Read at scrape time from ScrapeSources.
  readonly cacheHitsTotal: Counter;
  readonly cacheMissesTotal: Counter;
  readonly cacheBytes: Gauge;
  readonly cacheHitRatio: Gauge;
  readonly flushPendingBytes: Gauge;
  readonly logTailBytes: Gauge;
  readonly readAheadGetsTotal: Counter;
  readonly readAheadHitsTotal: Counter;
  readonly readAheadWastedBytesTotal: Counter;
  readonly readAheadBytes: Gauge;
  readonly partitionsOwned: Gauge;
  readonly fetchSessions: Gauge;
  readonly fetchSessionPartitions: Gauge;
  readonly fetchSessionEvictionsTotal: Counter;
  readonly consumerGroups: Gauge<'state'>;
  readonly consumerGroupLag: Gauge<'group' | 'topic' | 'partition'>;
  #sources: ScrapeSources | null = null;

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
      help: 'Kafka client connections closed, by reason (client, idle, error, frame, shutdown, authentication)',
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
    this.connectionsRejectedTotal = new Counter({
      name: 'kafscale_connections_rejected_total',
      help: 'Kafka client connections closed on accept, by limit (max_connections, max_connections_per_ip)',
      labelNames: ['reason'],
      registers,
    });
    this.queuedRequestBytes = new Gauge({
      name: 'kafscale_queued_request_bytes',
      help: 'Request bytes held in memory from size prefix to response (bounded by queued.max.request.bytes)',
      registers,
    });
    this.requestBudgetWaitsTotal = new Counter({
      name: 'kafscale_request_budget_waits_total',
      help: 'Times a connection stopped reading because queued.max.request.bytes was used up',
      registers,
    });
    this.tlsHandshakeFailuresTotal = new Counter({ name: 'kafscale_tls_handshake_failures_total', help: 'TLS handshakes with Kafka clients that failed (no or untrusted client certificate, protocol mismatch)', registers });
    this.saslAuthenticationsTotal = new Counter({
      name: 'kafscale_sasl_authentications_total',
      help: 'SASL authentications finished, by mechanism and outcome (success, failure)',
      labelNames: ['mechanism', 'outcome'],
      registers,
    });
    this.opsRequestsUnauthorizedTotal = new Counter({ name: 'kafscale_ops_requests_unauthorized_total', help: 'Ops HTTP requests refused for a missing or wrong bearer token', registers });

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

    this.flushesTotal = new Counter({
      name: 'kafscale_flushes_total',
      help: 'Flushes of the write path (one WAL object each), by outcome (ok; error = the PUT failed)',
      labelNames: ['outcome'],
      registers,
    });
    const topicCounter = (name: string, help: string): Counter<'topic'> => new Counter({ name, help, labelNames: ['topic'], registers });
    this.topicBytesInTotal = topicCounter('kafscale_topic_bytes_in_total', 'Record-batch bytes appended (acknowledged Produce), by topic');
    this.topicRecordsInTotal = topicCounter('kafscale_topic_records_in_total', 'Records appended (acknowledged Produce, counted from batch headers), by topic');
    this.topicBytesOutTotal = topicCounter('kafscale_topic_bytes_out_total', 'Record-batch bytes returned by Fetch, by topic');
    this.topicRecordsOutTotal = topicCounter('kafscale_topic_records_out_total', 'Records returned by Fetch (counted from batch headers), by topic');

    // prom-client calls collect() on every scrape; counters are set to the source's running totals.
    const metrics = this;
    this.cacheHitsTotal = new Counter({
      name: 'kafscale_cache_hits_total',
      help: 'Object-range reads served from the range cache (or joined to a GET in flight)',
      registers,
      collect() {
        const cache = metrics.#read((s) => s.cache());
        if (cache !== null && cache !== undefined) setCounter(this, cache.hits);
      },
    });
    this.cacheMissesTotal = new Counter({
      name: 'kafscale_cache_misses_total',
      help: 'Object-range reads that needed a GET',
      registers,
      collect() {
        const cache = metrics.#read((s) => s.cache());
        if (cache !== null && cache !== undefined) setCounter(this, cache.misses);
      },
    });
    this.cacheBytes = new Gauge({
      name: 'kafscale_cache_bytes',
      help: 'Bytes held by the range cache (bounded by KAFSCALE_CACHE_BYTES)',
      registers,
      collect() {
        const cache = metrics.#read((s) => s.cache());
        if (cache !== null && cache !== undefined) this.set(cache.bytes);
      },
    });
    this.flushPendingBytes = new Gauge({
      name: 'kafscale_flush_pending_bytes',
      help: 'Produced bytes held until their flush is committed, queued and in flight (bounded by KAFSCALE_FLUSH_MAX_PENDING_BYTES)',
      registers,
      collect() {
        const memory = metrics.#read((s) => s.writeMemory?.());
        if (memory !== null && memory !== undefined) this.set(memory.pendingBytes);
      },
    });
    this.logTailBytes = new Gauge({
      name: 'kafscale_log_tail_bytes',
      help: "Bytes of acknowledged batches held in the owners' tails (bounded by KAFSCALE_LOG_TAIL_BYTES)",
      registers,
      collect() {
        const memory = metrics.#read((s) => s.writeMemory?.());
        if (memory !== null && memory !== undefined) this.set(memory.tailBytes);
      },
    });
    this.cacheHitRatio = new Gauge({
      name: 'kafscale_cache_hit_ratio',
      help: 'Range-cache hits / (hits + misses) since start; NaN before the first read',
      registers,
      collect() {
        const cache = metrics.#read((s) => s.cache());
        if (cache !== null && cache !== undefined) this.set(cache.hits + cache.misses === 0 ? Number.NaN : cache.hits / (cache.hits + cache.misses));
      },
    });
    this.readAheadGetsTotal = new Counter({
      name: 'kafscale_read_ahead_gets_total',
      help: 'Object GETs started by read-ahead for sequential consumers (also counted in kafscale_object_store_requests_total)',
      registers,
      collect() {
        const ahead = metrics.#read((s) => s.cache())?.readAhead;
        if (ahead !== undefined) setCounter(this, ahead.gets);
      },
    });
    this.readAheadHitsTotal = new Counter({
      name: 'kafscale_read_ahead_hits_total',
      help: 'Object-range reads served by read-ahead (taken while its GET was in flight or done)',
      registers,
      collect() {
        const ahead = metrics.#read((s) => s.cache())?.readAhead;
        if (ahead !== undefined) setCounter(this, ahead.hits);
      },
    });
    this.readAheadWastedBytesTotal = new Counter({
      name: 'kafscale_read_ahead_wasted_bytes_total',
      help: 'Bytes read ahead but dropped unread (the reader went elsewhere, or entries were merged or trimmed)',
      registers,
      collect() {
        const ahead = metrics.#read((s) => s.cache())?.readAhead;
        if (ahead !== undefined) setCounter(this, ahead.wastedBytes);
      },
    });
    this.readAheadBytes = new Gauge({
      name: 'kafscale_read_ahead_bytes',
      help: 'Bytes read ahead: queued, in flight or held unread (bounded by KAFSCALE_READ_AHEAD_BYTES)',
      registers,
      collect() {
        const ahead = metrics.#read((s) => s.cache())?.readAhead;
        if (ahead !== undefined) this.set(ahead.reservedBytes);
      },
    });
    this.fetchSessions = new Gauge({
      name: 'kafscale_fetch_sessions',
      help: 'Incremental fetch sessions (KIP-227) this broker keeps (bounded by KAFSCALE_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS)',
      registers,
      collect() {
        const cache = metrics.#read((s) => s.fetchSessions?.());
        if (cache !== undefined) this.set(cache.sessions);
      },
    });
    this.fetchSessionPartitions = new Gauge({
      name: 'kafscale_fetch_session_partitions',
      help: 'Partitions cached by all fetch sessions of this broker',
      registers,
      collect() {
        const cache = metrics.#read((s) => s.fetchSessions?.());
        if (cache !== undefined) this.set(cache.partitions);
      },
    });
    this.fetchSessionEvictionsTotal = new Counter({
      name: 'kafscale_fetch_session_evictions_total',
      help: 'Fetch sessions evicted to make room for a new one',
      registers,
      collect() {
        const cache = metrics.#read((s) => s.fetchSessions?.());
        if (cache !== undefined) setCounter(this, cache.evictions);
      },
    });
    this.partitionsOwned = new Gauge({
      name: 'kafscale_partitions_owned',
      help: 'Partitions this broker owns (is the writer of) now',
      registers,
      collect() {
        const owned = metrics.#read((s) => s.partitionsOwned());
        if (owned !== undefined) this.set(owned);
      },
    });
    this.consumerGroupLag = new Gauge({
      name: 'kafscale_consumer_group_lag',
      help: 'High watermark minus committed offset, per group and partition, for groups this broker coordinates (bounded series)',
      labelNames: ['group', 'topic', 'partition'],
      registers,
    });
    this.consumerGroups = new Gauge({
      name: 'kafscale_consumer_groups',
      help: 'Consumer groups this broker coordinates, by state',
      labelNames: ['state'],
      registers,
      // Async: reads committed offsets; also refreshes kafscale_consumer_group_lag, which is written
      // out after this gauge (registration order), so one scrape sees one consistent snapshot.
      async collect() {
        const sources = metrics.#sources;
        this.reset();
        metrics.consumerGroupLag.reset();
        if (sources === null) return;
        let snapshot: GroupsSnapshot;
        try {
          snapshot = await sources.groups();
        } catch {
          return;
        }
        for (const state of GROUP_STATES) this.set({ state }, snapshot.byState[state] ?? 0);
        for (const [state, count] of Object.entries(snapshot.byState)) this.set({ state }, count);
        for (const l of snapshot.lag) metrics.consumerGroupLag.set({ group: l.group, topic: l.topic, partition: String(l.partition) }, l.lag);
      },
    });
  }

  /** Wires the scrape-time sources (the app does, once the log service and coordinator exist). */
  useScrapeSources(sources: ScrapeSources): void {
    this.#sources = sources;
  }

  /** Drops the per-topic series of a deleted topic, so the label set stays bounded by live topics. */
  removeTopic(topic: string): void {
    for (const counter of [this.topicBytesInTotal, this.topicRecordsInTotal, this.topicBytesOutTotal, this.topicRecordsOutTotal]) counter.remove({ topic });
  }

  #read<T>(read: (sources: ScrapeSources) => T): T | undefined {
    if (this.#sources === null) return undefined;
    try {
      return read(this.#sources);
    } catch {
      return undefined;
    }
  }

  /** Prometheus text exposition, for GET /metrics. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A counter mirroring a running total kept elsewhere (read at scrape time). */
function setCounter(counter: Counter, total: number): void {
  counter.reset();
  if (total > 0) counter.inc(total);
}
