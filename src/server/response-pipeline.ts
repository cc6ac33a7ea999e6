/**
 * Per connection, requests pipeline and responses go out strictly in request order (Kafka clients match
 * responses by order as well as by correlation id): every dispatched request's promise joins a FIFO, and
 * a single writer awaits the head, writes it, and moves on — even when handlers finish out of order. A
 * `null` result (Produce acks=0) writes nothing but keeps its place.
 */
import type { ConnectionContext } from '../broker/dispatch.ts';
import type { KafscaleMetrics } from '../telemetry/metrics.ts';
import type { ResponseWriter } from './response-writer.ts';

/** What the connection does as the writer moves on. */
export interface PipelineEvents {
  /** A response went out (or a null one passed): false when it was the connection's last. */
  readonly written: () => boolean;
  /** The head request's dispatcher call rejected: nothing more is written, the connection must close. */
  readonly failed: (error: unknown) => void;
  /** The writer has stopped: nothing left to write, or it was stopped. */
  readonly stopped: () => void;
}

class PendingResponse {
  readonly promise: Promise<readonly Buffer[] | null>;
  readonly apiKey: string;
  readonly startedMs: number;

  constructor(promise: Promise<readonly Buffer[] | null>, apiKey: string, startedMs: number) {
    this.promise = promise;
    this.apiKey = apiKey;
    this.startedMs = startedMs;
  }
}

export class ResponsePipeline {
  readonly #writer: ResponseWriter;
  readonly #metrics: KafscaleMetrics;
  readonly #produceOrder: ConnectionContext['produceOrder'];
  readonly #events: PipelineEvents;
  readonly #queue: PendingResponse[];
  #writing: boolean;
  #closed: boolean;

  constructor(writer: ResponseWriter, metrics: KafscaleMetrics, produceOrder: ConnectionContext['produceOrder'], events: PipelineEvents) {
    this.#writer = writer;
    this.#metrics = metrics;
    this.#produceOrder = produceOrder;
    this.#events = events;
    this.#queue = [];
    this.#writing = false;
    this.#closed = false;
  }

  /** Requests dispatched whose response is not yet written. */
  get pending(): number {
    return this.#queue.length;
  }

  /** True while the writer is running (it ends the connection itself when it stops, if it should). */
  get writing(): boolean {
    return this.#writing;
  }

  /**
   * Queues a dispatched request's response. A rejection must already be observed by the caller: it is
   * handled here when it reaches the head, not reported as unhandled while earlier requests are pending.
   */
  push(promise: Promise<readonly Buffer[] | null>, apiKey: string): void {
    this.#queue.push(new PendingResponse(promise, apiKey, performance.now()));
    this.#metrics.requestsTotal.inc({ api_key: apiKey });
    this.#metrics.requestsInFlight.inc();
    if (!this.#writing) void this.#writeInOrder();
  }

  /** Responses not yet written are never written (the connection is closing). */
  drop(): void {
    this.#metrics.requestsInFlight.dec(this.#queue.length);
    this.#queue.length = 0;
  }

  /** The socket has closed: drop what is pending and stop the writer. */
  close(): void {
    this.#closed = true;
    if (this.#queue.length > 0) this.#metrics.requestsInFlight.dec(this.#queue.length);
    this.#queue.length = 0;
  }

  /** The single writer: awaits the oldest pending request, writes it, repeats. Never rejects. */
  async #writeInOrder(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const head = this.#queue[0] as PendingResponse;
        let response: readonly Buffer[] | null;
        try {
          response = await head.promise;
        } catch (error) {
          this.#events.failed(error);
          return;
        }
        // Closed while waiting: close() already dropped the queue and its gauge.
        if (this.#closed) return;
        this.#queue.shift();
        this.#metrics.requestsInFlight.dec();
        if (response !== null) this.#writer.write(response);
        this.#produceOrder?.written();
        this.#metrics.requestDurationSeconds.observe({ api_key: head.apiKey }, (performance.now() - head.startedMs) / 1000);
        if (!this.#events.written()) return;
      }
    } finally {
      this.#writing = false;
      this.#events.stopped();
    }
  }
}
