/**
 * One client connection: frames in, dispatcher calls in arrival order without waiting for each other,
 * responses out strictly in request order (Kafka clients match responses by order as well as by
 * correlation id), with backpressure both ways:
 * - at most `maxInflight` requests dispatched and not yet answered; beyond that, and while the socket's
 *   write buffer is over its high-water mark (a client that does not read), the connection stops reading.
 *   Frames already received stay in the decoder and the kernel, so memory per connection is bounded by
 *   the in-flight limit, not by what the client sends.
 * - with a broker-wide RequestBudget (queued.max.request.bytes), each frame is charged when its size
 *   prefix is read, before its body is buffered, and released when its response is ready; while the
 *   budget is used up the connection stops reading until its turn comes.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ConnectionContext, RequestDispatcher, SaslConnectionState } from '../broker/dispatch.ts';
import { isKafscaleError } from '../errors/kafscale-error.ts';
import { FrameDecoder, sizePrefix } from '../protocol/frame.ts';
import { apiKeyLabel, type KafscaleMetrics } from '../telemetry/metrics.ts';
import type { BudgetWaiter, RequestBudget } from './request-budget.ts';

export type CloseReason = 'client' | 'idle' | 'frame' | 'dispatch' | 'error' | 'shutdown' | 'authentication';

/**
 * ApiVersions (18), SaslHandshake (17) and SaslAuthenticate (36): all a SASL connection may send
 * before it has authenticated, or after its session expired without re-authentication (KIP-368).
 */
const PRE_AUTHENTICATION_API_KEYS: ReadonlySet<number> = new Set([17, 18, 36]);

/** Largest frame accepted before SASL authentication (Kafka's sasl.server.max.receive.size default). */
const SASL_MAX_RECEIVE_BYTES = 512 * 1024;

export interface KafkaConnectionOptions {
  readonly id: number;
  readonly socket: Socket;
  readonly dispatcher: RequestDispatcher;
  readonly maxFrameBytes: number;
  readonly maxInflight: number;
  readonly idleTimeoutMs: number;
  readonly log: Logger;
  readonly metrics: KafscaleMetrics;
  /** Broker-wide bound of request bytes in memory; none: only the per-connection in-flight limit. */
  readonly budget?: RequestBudget;
  /** The listener's name; default PLAINTEXT. */
  readonly listenerName?: string;
  /** Principal before any SASL (User:ANONYMOUS, or the mapped TLS client certificate). */
  readonly principal?: string;
  /** SASL mechanisms offered; null or absent: the listener has no SASL. */
  readonly saslMechanisms?: readonly string[] | null;
}

/** TLS writes: pieces smaller than this are joined, up to this size (16 KiB = one TLS record's payload, ×4). */
const TLS_COALESCE_BYTES = 64 * 1024;

/** How long a closing connection may take to flush what it already wrote before it is destroyed. */
const END_GRACE_MS = 1_000;

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

/** A frame's charge on the request budget, given back when its handler has answered (or failed). */
class BudgetCharge {
  readonly #budget: RequestBudget;
  readonly #metrics: KafscaleMetrics;
  readonly #bytes: number;

  constructor(budget: RequestBudget, metrics: KafscaleMetrics, bytes: number) {
    this.#budget = budget;
    this.#metrics = metrics;
    this.#bytes = bytes;
  }

  readonly release = (): void => {
    this.#budget.release(this.#bytes);
    this.#metrics.queuedRequestBytes.dec(this.#bytes);
  };
}

/**
 * Rejections are observed in order by the write loop; this handler only keeps a rejection of a later
 * request (while an earlier one is still pending) from being reported as unhandled.
 */
function ignoreRejection(): void {}

export class KafkaConnection {
  readonly context: ConnectionContext;
  /** Resolves once the socket has closed, for whatever reason. */
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #dispatcher: RequestDispatcher;
  readonly #decoder: FrameDecoder;
  readonly #maxInflight: number;
  readonly #idleTimeoutMs: number;
  readonly #metrics: KafscaleMetrics;
  readonly #abort: AbortController;
  readonly #queue: PendingResponse[];
  readonly #idleTimer: NodeJS.Timeout;
  readonly #budget: RequestBudget | null;
  readonly #budgetWaiter: BudgetWaiter;
  /** Bytes charged to the budget for the frame being received or held, not yet dispatched. */
  #chargedBytes: number;
  /** Bytes asked of the budget and not yet granted (-1: not waiting). */
  #awaitedBytes: number;
  /** A complete frame that arrived before its charge was granted. */
  #held: Buffer | null;
  /** A TLS socket (SSL, SASL_SSL listeners). */
  readonly #encrypted: boolean;
  #resolveClosed: () => void;
  #writing: boolean;
  #paused: boolean;
  /** No more requests are read (shutdown, client half-close, failure); the connection ends when the queue is empty. */
  #draining: boolean;
  #isClosed: boolean;
  #closeReason: CloseReason;
  #requests: number;
  #bytesIn: number;
  #bytesOut: number;

  constructor(options: KafkaConnectionOptions) {
    const socket = options.socket;
    this.#socket = socket;
    this.#encrypted = 'encrypted' in socket && socket.encrypted === true;
    this.#dispatcher = options.dispatcher;
    this.#decoder = new FrameDecoder(options.maxFrameBytes);
    this.#maxInflight = options.maxInflight;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#metrics = options.metrics;
    this.#abort = new AbortController();
    this.#queue = [];
    this.#writing = false;
    this.#paused = false;
    this.#draining = false;
    this.#isClosed = false;
    this.#closeReason = 'client';
    this.#requests = 0;
    this.#bytesIn = 0;
    this.#bytesOut = 0;
    this.#budget = options.budget ?? null;
    this.#budgetWaiter = { granted: this.#onBudgetGranted };
    this.#chargedBytes = 0;
    this.#awaitedBytes = -1;
    this.#held = null;
    this.#resolveClosed = ignoreRejection;
    this.closed = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    const remoteAddress = socket.remoteAddress ?? 'unknown';
    const remotePort = socket.remotePort ?? 0;
    this.context = {
      id: options.id,
      remoteAddress,
      remotePort,
      log: options.log.child({ connectionId: options.id, remote: `${remoteAddress}:${remotePort}` }),
      signal: this.#abort.signal,
      principal: options.principal ?? 'User:ANONYMOUS',
      listenerName: options.listenerName ?? 'PLAINTEXT',
      sasl: options.saslMechanisms === undefined || options.saslMechanisms === null ? null : newSaslState(options.saslMechanisms),
      produceOrder: options.dispatcher.newProduceOrder(),
    };
    this.#idleTimer = setTimeout(this.#onIdle, this.#idleTimeoutMs);
    this.#idleTimer.unref();

    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    this.context.log.debug('connection opened');
  }

  /** Requests dispatched whose response is not yet written. */
  get inFlight(): number {
    return this.#queue.length;
  }

  /** True while the connection has stopped reading because of backpressure or draining. */
  get paused(): boolean {
    return this.#paused;
  }

  get writeBufferedBytes(): number {
    return this.#socket.writableLength;
  }

  /** Graceful close: read nothing more, answer what was received, then end the connection. */
  drain(): void {
    if (this.#isClosed) return;
    this.#closeReason = 'shutdown';
    this.#startDraining();
  }

  /** Immediate close; pending responses are dropped. */
  destroy(reason: CloseReason): void {
    if (this.#isClosed) return;
    this.#closeReason = reason;
    this.#socket.destroy();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#bytesIn += chunk.length;
    this.#metrics.networkReceivedBytesTotal.inc(chunk.length);
    this.#idleTimer.refresh();
    try {
      this.#decoder.push(chunk);
    } catch (error) {
      // Only reachable if the socket delivered data while paused; never let it take the process down.
      this.context.log.error({ err: error }, 'data arrived while the connection was paused; closing it');
      this.destroy('error');
      return;
    }
    this.#pump();
  };

  /** Takes frames from the decoder while the limits allow; stops or resumes reading accordingly. */
  #pump(): void {
    const socket = this.#socket;
    while (!this.#isClosed && !this.#draining) {
      if (this.#queue.length >= this.#maxInflight || socket.writableNeedDrain || this.#awaitedBytes !== -1) {
        this.#pause();
        return;
      }
      let frame = this.#held;
      if (frame !== null) {
        this.#held = null;
      } else {
        try {
          frame = this.#decoder.next();
        } catch (error) {
          this.#onFrameError(error);
          return;
        }
        if (frame === null) {
          if (this.#oversizedBeforeAuthentication()) return;
          // A frame's body is about to be buffered: charge it first, or wait with the body left in the kernel.
          const pending = this.#decoder.pendingFrameBytes;
          if (pending !== null && this.#chargedBytes === 0 && !this.#charge(pending)) {
            this.#pause();
            return;
          }
          if (this.#paused) {
            this.#paused = false;
            socket.resume();
          }
          return;
        }
        if (this.#chargedBytes === 0 && !this.#charge(frame.length)) {
          // It arrived whole in one chunk before it could be charged: keep it until its turn.
          this.#held = frame;
          this.#pause();
          return;
        }
      }
      this.#dispatch(frame);
    }
  }

  #pause(): void {
    if (!this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  /** True when `bytes` are charged now; false when the connection waits for them (#onBudgetGranted). */
  #charge(bytes: number): boolean {
    const budget = this.#budget;
    if (budget === null || bytes === 0) return true;
    if (!budget.acquire(bytes, this.#budgetWaiter)) {
      this.#awaitedBytes = bytes;
      this.#metrics.requestBudgetWaitsTotal.inc();
      return false;
    }
    this.#chargedBytes = bytes;
    this.#metrics.queuedRequestBytes.inc(bytes);
    return true;
  }

  readonly #onBudgetGranted = (): void => {
    this.#chargedBytes = this.#awaitedBytes;
    this.#awaitedBytes = -1;
    this.#metrics.queuedRequestBytes.inc(this.#chargedBytes);
    this.#pump();
  };

  /** Gives back what this connection holds of the budget but has not dispatched (on close). */
  #releaseBudget(): void {
    const budget = this.#budget;
    if (budget === null) return;
    if (this.#awaitedBytes !== -1) {
      budget.cancel(this.#budgetWaiter);
      this.#awaitedBytes = -1;
    }
    if (this.#chargedBytes > 0) {
      const bytes = this.#chargedBytes;
      this.#chargedBytes = 0;
      budget.release(bytes);
      this.#metrics.queuedRequestBytes.dec(bytes);
    }
    this.#held = null;
  }

  #dispatch(frame: Buffer): void {
    const sasl = this.context.sasl;
    if (sasl !== null && ((!sasl.authenticated && frame.length > SASL_MAX_RECEIVE_BYTES) || !saslAllows(sasl, frame))) {
      this.#refuseUnauthenticated(sasl, frame);
      return;
    }
    // Request header v0+: api_key is the first int16. Used only as a bounded metric label.
    const apiKey = apiKeyLabel(frame.length >= 2 ? frame.readInt16BE(0) : -1);
    let promise: Promise<readonly Buffer[] | null>;
    this.context.produceOrder?.received();
    try {
      promise = this.#dispatcher.handle(frame, this.context);
    } catch (error) {
      promise = Promise.reject(error);
    }
    if (this.#chargedBytes > 0 && this.#budget !== null) {
      const charge = new BudgetCharge(this.#budget, this.#metrics, this.#chargedBytes);
      this.#chargedBytes = 0;
      // Released when the handler is done with the frame, in whatever order requests finish.
      promise.then(charge.release, charge.release);
    } else {
      promise.then(undefined, ignoreRejection);
    }
    this.#queue.push(new PendingResponse(promise, apiKey, performance.now()));
    this.#requests++;
    this.#metrics.requestsTotal.inc({ api_key: apiKey });
    this.#metrics.requestsInFlight.inc();
    if (!this.#writing) void this.#writeInOrder();
  }

  /** The single writer: awaits the oldest pending request, writes it, repeats. Never rejects. */
  async #writeInOrder(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#isClosed) {
        const head = this.#queue[0] as PendingResponse;
        let response: readonly Buffer[] | null;
        try {
          response = await head.promise;
        } catch (error) {
          this.#onDispatchError(error);
          return;
        }
        // Closed while waiting: #onClose already dropped the queue and its gauge.
        if (this.#isClosed) return;
        this.#queue.shift();
        this.#metrics.requestsInFlight.dec();
        if (response !== null) this.#write(response);
        this.context.produceOrder?.written();
        this.#metrics.requestDurationSeconds.observe({ api_key: head.apiKey }, (performance.now() - head.startedMs) / 1000);
        if (this.context.sasl?.closeAfterResponse === true) {
          // Failed authentication (or an illegal SASL sequence): this response was the last one.
          this.#closeReason = 'authentication';
          this.#metrics.requestsInFlight.dec(this.#queue.length);
          this.#queue.length = 0;
          this.#startDraining();
          return;
        }
        // A slot is free: take more frames unless the client is not reading our responses.
        this.#pump();
      }
    } finally {
      this.#writing = false;
      if (this.#draining && this.#queue.length === 0) this.#end();
    }
  }

  #write(chunks: readonly Buffer[]): void {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return;
    const prefix = sizePrefix(chunks);
    let bytes = prefix.length;
    if (this.#encrypted && chunks.length > 1) {
      this.#writeCoalesced(prefix, chunks);
      return;
    }
    socket.cork();
    socket.write(prefix);
    for (const chunk of chunks) {
      socket.write(chunk);
      bytes += chunk.length;
    }
    socket.uncork();
    this.#bytesOut += bytes;
    this.#metrics.networkSentBytesTotal.inc(bytes);
  }

  /**
   * TLS encrypts every buffer of a corked write as its own record(s): a Fetch response of many small
   * pieces became many small records. Small pieces are joined into buffers of up to TLS_COALESCE_BYTES
   * (a copy, which encryption makes anyway); large ones are written as they are, so a big response is
   * never copied whole.
   */
  #writeCoalesced(prefix: Buffer, chunks: readonly Buffer[]): void {
    const socket = this.#socket;
    let pending: Buffer[] = [prefix];
    let pendingBytes = prefix.length;
    let total = 0;
    const flush = (): void => {
      if (pendingBytes === 0) return;
      socket.write(pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes));
      total += pendingBytes;
      pending = [];
      pendingBytes = 0;
    };
    socket.cork();
    for (const chunk of chunks) {
      if (chunk.length >= TLS_COALESCE_BYTES) {
        flush();
        socket.write(chunk);
        total += chunk.length;
        continue;
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= TLS_COALESCE_BYTES) flush();
    }
    flush();
    socket.uncork();
    this.#bytesOut += total;
    this.#metrics.networkSentBytesTotal.inc(total);
  }

  readonly #onDrain = (): void => {
    this.#pump();
  };

  #onFrameError(error: unknown): void {
    const code = isKafscaleError(error) ? error.code : undefined;
    this.#metrics.framesRejectedTotal.inc({ reason: code === 'KSC_FRAME_TOO_LARGE' ? 'too_large' : 'malformed' });
    this.context.log.warn(
      { remote: `${this.context.remoteAddress}:${this.context.remotePort}`, code, err: error },
      'invalid request frame; closing the connection',
    );
    this.destroy('frame');
  }

  /**
   * Kafka's sasl.server.max.receive.size: before authentication no frame may exceed 512 KiB, so an
   * unauthenticated client cannot make the broker buffer up to socket.request.max.bytes. Checked as
   * soon as the size prefix of an incomplete frame is known.
   */
  #oversizedBeforeAuthentication(): boolean {
    const sasl = this.context.sasl;
    const pending = this.#decoder.pendingFrameBytes;
    if (sasl === null || sasl.authenticated || pending === null || pending <= SASL_MAX_RECEIVE_BYTES) return false;
    this.context.log.info({ frameBytes: pending, limit: SASL_MAX_RECEIVE_BYTES }, 'frame larger than allowed before SASL authentication; closing the connection');
    this.destroy('authentication');
    return true;
  }

  /** Anything but ApiVersions and SASL before authentication (or after the session expired) closes the connection. */
  #refuseUnauthenticated(sasl: SaslConnectionState, frame: Buffer): void {
    const apiKey = frame.length >= 2 ? frame.readInt16BE(0) : -1;
    const expired = sasl.authenticated;
    this.context.log.info(
      { apiKey, principal: this.context.principal, listener: this.context.listenerName },
      expired ? 'request after the SASL session expired without re-authentication; closing the connection' : 'request before SASL authentication; closing the connection',
    );
    this.#closeReason = 'authentication';
    this.#startDraining();
  }

  #onDispatchError(error: unknown): void {
    const code = isKafscaleError(error) ? error.code : undefined;
    const expected = code === 'KSC_PROTOCOL_MALFORMED' || code === 'KSC_PROTOCOL_UNSUPPORTED_VERSION';
    // The dispatcher already logged protocol errors with the request details; anything else is a bug.
    if (expected) this.context.log.debug({ code }, 'request rejected by the dispatcher; closing the connection');
    else this.context.log.error({ err: error }, 'dispatcher failed unexpectedly; closing the connection');
    this.#closeReason = 'dispatch';
    // Responses after the failed one are never written: the client will see the connection close.
    this.#metrics.requestsInFlight.dec(this.#queue.length);
    this.#queue.length = 0;
    this.#startDraining();
  }

  #startDraining(): void {
    this.#draining = true;
    if (!this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    if (this.#queue.length === 0 && !this.#writing) this.#end();
  }

  /** Flush what is written, send FIN, and destroy if the peer does not let the flush finish. */
  #end(): void {
    const socket = this.#socket;
    if (this.#isClosed || socket.writableEnded) return;
    socket.end();
    setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
  }

  readonly #onIdle = (): void => {
    if (this.#isClosed) return;
    if (this.#queue.length > 0) {
      // Long polls and slow requests are activity; only a connection with nothing to do is idle.
      this.#idleTimer.refresh();
      return;
    }
    this.context.log.debug({ idleTimeoutMs: this.#idleTimeoutMs }, 'closing idle connection');
    this.destroy('idle');
  };

  readonly #onEnd = (): void => {
    // The client half-closed: answer what it sent, then close our side (allowHalfOpen on the server).
    if (this.#closeReason === 'client') this.#startDraining();
  };

  readonly #onError = (error: Error): void => {
    if (this.#closeReason === 'client') this.#closeReason = 'error';
    this.context.log.debug({ err: error }, 'socket error');
  };

  readonly #onClose = (): void => {
    this.#isClosed = true;
    clearTimeout(this.#idleTimer);
    this.#releaseBudget();
    this.#abort.abort(new Error(`connection closed (${this.#closeReason})`));
    if (this.#queue.length > 0) this.#metrics.requestsInFlight.dec(this.#queue.length);
    this.#queue.length = 0;
    this.#metrics.connectionsActive.dec();
    this.#metrics.connectionsClosedTotal.inc({ reason: this.#closeReason });
    this.context.log.debug(
      { reason: this.#closeReason, requests: this.#requests, bytesIn: this.#bytesIn, bytesOut: this.#bytesOut },
      'connection closed',
    );
    this.#resolveClosed();
  };
}

function newSaslState(mechanisms: readonly string[]): SaslConnectionState {
  return { mechanisms, authenticated: false, mechanism: null, exchange: null, handshakeVersion: 1, sessionExpiresAtMs: 0, closeAfterResponse: false };
}

/** Whether a SASL connection may send this frame now. */
function saslAllows(sasl: SaslConnectionState, frame: Buffer): boolean {
  if (sasl.closeAfterResponse) return false;
  // After a v0 SaslHandshake the next frame is a raw SASL token (no Kafka header) for the dispatcher.
  if (sasl.handshakeVersion === 0 && sasl.mechanism !== null) return true;
  if (frame.length >= 2 && PRE_AUTHENTICATION_API_KEYS.has(frame.readInt16BE(0))) return true;
  return sasl.authenticated && (sasl.sessionExpiresAtMs === 0 || Date.now() < sasl.sessionExpiresAtMs);
}
