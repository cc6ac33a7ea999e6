/**
 * One client connection: frames in, dispatcher calls in arrival order without waiting for each other,
 * responses out strictly in request order (response-pipeline.ts), with backpressure both ways:
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
import { FrameDecoder, SASL_MAX_RECEIVE_BYTES } from '../protocol/frame.ts';
import { apiKeyLabel, type KafscaleMetrics } from '../telemetry/metrics.ts';
import { ConnectionBudget } from './connection-budget.ts';
import type { DirectReads } from './direct-reads.ts';
import type { RequestBudget } from './request-budget.ts';
import { ResponsePipeline } from './response-pipeline.ts';
import { ResponseWriter } from './response-writer.ts';
import { newSaslState, saslAdmits, tooLargeBeforeAuthentication } from './sasl-admission.ts';

export type CloseReason = 'client' | 'idle' | 'frame' | 'dispatch' | 'error' | 'shutdown' | 'authentication';

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
  /**
   * The socket reads into a shared buffer (direct-reads.ts; then `socket` is `directReads.socket`):
   * bytes arrive through its receiver instead of 'data' events, and are copied out before it returns.
   */
  readonly directReads?: DirectReads;
}

/** Bytes a paused direct-read connection still reads (into its backlog) before it stops reading: Node's default readable high-water mark. */
const DIRECT_BACKLOG_BYTES = 64 * 1024;

/** How long a closing connection may take to flush what it already wrote before it is destroyed. */
const END_GRACE_MS = 1_000;

/**
 * Rejections are observed in order by the response pipeline; this handler only keeps a rejection of a
 * later request (while an earlier one is still pending) from being reported as unhandled.
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
  readonly #pipeline: ResponsePipeline;
  readonly #idleTimer: NodeJS.Timeout;
  readonly #budget: ConnectionBudget;
  readonly #writer: ResponseWriter;
  /** A complete frame that arrived before its charge was granted. */
  #held: Buffer | null;
  #resolveClosed: () => void;
  #paused: boolean;
  /**
   * Direct reads only: bytes read while paused (owned copies), taken before the socket is read again.
   * A paused 'data' socket goes on reading into its stream buffer up to the high-water mark, which is how
   * a peer's close is noticed while paused; this keeps that behaviour for direct reads.
   */
  readonly #direct: boolean;
  #backlog: Buffer[];
  #backlogBytes: number;
  /** The client half-closed while requests were still in the backlog: drain once they are taken. */
  #endAfterBacklog: boolean;
  /** No more requests are read (shutdown, client half-close, failure); the connection ends when the pipeline is empty. */
  #draining: boolean;
  #isClosed: boolean;
  #closeReason: CloseReason;
  #requests: number;
  #bytesIn: number;

  constructor(options: KafkaConnectionOptions) {
    const socket = options.socket;
    this.#socket = socket;
    this.#writer = new ResponseWriter(socket, options.metrics);
    this.#dispatcher = options.dispatcher;
    // With a request budget every frame is charged after its first part is read, before its second:
    // the decoder may then allocate any frame at its full size (direct reads).
    this.#decoder = options.budget === undefined ? new FrameDecoder(options.maxFrameBytes) : new FrameDecoder(options.maxFrameBytes, options.maxFrameBytes);
    this.#maxInflight = options.maxInflight;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#metrics = options.metrics;
    this.#abort = new AbortController();
    this.#paused = false;
    this.#direct = options.directReads !== undefined;
    this.#backlog = [];
    this.#backlogBytes = 0;
    this.#endAfterBacklog = false;
    this.#draining = false;
    this.#isClosed = false;
    this.#closeReason = 'client';
    this.#requests = 0;
    this.#bytesIn = 0;
    this.#budget = new ConnectionBudget(options.budget ?? null, options.metrics, this.#onBudgetGranted);
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
    this.#pipeline = new ResponsePipeline(this.#writer, options.metrics, this.context.produceOrder, {
      written: this.#onWritten,
      failed: this.#onDispatchError,
      stopped: this.#onWriterStopped,
    });
    this.#idleTimer = setTimeout(this.#onIdle, this.#idleTimeoutMs);
    this.#idleTimer.unref();

    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    if (options.directReads === undefined) socket.on('data', this.#onData);
    else options.directReads.receive(this.#onDirectRead);
    socket.on('drain', this.#onDrain);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    this.context.log.debug('connection opened');
  }

  /** Requests dispatched whose response is not yet written. */
  get inFlight(): number {
    return this.#pipeline.pending;
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
    this.#receive(chunk, false);
  };

  /** A read into the shared buffer: nothing of it may be kept after this returns. */
  readonly #onDirectRead = (bytes: Buffer): void => {
    if (this.#paused || this.#backlog.length > 0) {
      this.#bytesIn += bytes.length;
      this.#metrics.networkReceivedBytesTotal.inc(bytes.length);
      this.#idleTimer.refresh();
      this.#backlog.push(Buffer.from(bytes));
      this.#backlogBytes += bytes.length;
      if (this.#backlogBytes >= DIRECT_BACKLOG_BYTES) this.#socket.pause();
      return;
    }
    this.#receive(bytes, true);
    this.#decoder.ownUnread();
  };

  #receive(chunk: Buffer, transient: boolean): void {
    this.#bytesIn += chunk.length;
    this.#metrics.networkReceivedBytesTotal.inc(chunk.length);
    this.#idleTimer.refresh();
    try {
      this.#decoder.push(chunk, transient);
    } catch (error) {
      // Only reachable if the socket delivered data while paused; never let it take the process down.
      this.context.log.error({ err: error }, 'data arrived while the connection was paused; closing it');
      this.destroy('error');
      return;
    }
    this.#pump();
  }

  /** Takes frames from the decoder while the limits allow; stops or resumes reading accordingly. */
  #pump(): void {
    const socket = this.#socket;
    while (!this.#isClosed && !this.#draining) {
      if (this.#pipeline.pending >= this.#maxInflight || socket.writableNeedDrain || this.#budget.waiting) {
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
          if (pending !== null && !this.#budget.charged && !this.#budget.charge(pending)) {
            this.#pause();
            return;
          }
          const backlogged = this.#backlog.shift();
          if (backlogged !== undefined) {
            // next() returned null: the decoder's chunk is used up.
            this.#backlogBytes -= backlogged.length;
            this.#decoder.push(backlogged);
            continue;
          }
          if (this.#endAfterBacklog) {
            this.#startDraining();
            return;
          }
          if (this.#paused) {
            this.#paused = false;
            socket.resume();
          }
          return;
        }
        if (!this.#budget.charged && !this.#budget.charge(frame.length)) {
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
      // Direct reads go on into the backlog until it is full (#onDirectRead), like a paused stream.
      if (!this.#direct) this.#socket.pause();
    }
  }

  readonly #onBudgetGranted = (): void => {
    this.#pump();
  };

  #dispatch(frame: Buffer): void {
    const sasl = this.context.sasl;
    if (sasl !== null && !saslAdmits(sasl, frame)) {
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
    const charge = this.#budget.take();
    if (charge !== null) {
      // Released when the handler is done with the frame, in whatever order requests finish.
      promise.then(charge.release, charge.release);
    } else {
      promise.then(undefined, ignoreRejection);
    }
    this.#requests++;
    this.#pipeline.push(promise, apiKey);
  }

  /** After each response written: stop after a failed authentication, else read on if the limits allow. */
  readonly #onWritten = (): boolean => {
    if (this.context.sasl?.closeAfterResponse === true) {
      // Failed authentication (or an illegal SASL sequence): this response was the last one.
      this.#closeReason = 'authentication';
      this.#pipeline.drop();
      this.#startDraining();
      return false;
    }
    // A slot is free: take more frames unless the client is not reading our responses.
    this.#pump();
    return true;
  };

  readonly #onWriterStopped = (): void => {
    if (this.#draining && this.#pipeline.pending === 0) this.#end();
  };

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
    const pending = this.#decoder.pendingFrameBytes;
    if (!tooLargeBeforeAuthentication(this.context.sasl, pending)) return false;
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

  readonly #onDispatchError = (error: unknown): void => {
    const code = isKafscaleError(error) ? error.code : undefined;
    const expected = code === 'KSC_PROTOCOL_MALFORMED' || code === 'KSC_PROTOCOL_UNSUPPORTED_VERSION';
    // The dispatcher already logged protocol errors with the request details; anything else is a bug.
    if (expected) this.context.log.debug({ code }, 'request rejected by the dispatcher; closing the connection');
    else this.context.log.error({ err: error }, 'dispatcher failed unexpectedly; closing the connection');
    this.#closeReason = 'dispatch';
    // Responses after the failed one are never written: the client will see the connection close.
    this.#pipeline.drop();
    this.#startDraining();
  };

  #startDraining(): void {
    this.#draining = true;
    if (!this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    if (this.#pipeline.pending === 0 && !this.#pipeline.writing) this.#end();
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
    if (this.#pipeline.pending > 0) {
      // Long polls and slow requests are activity; only a connection with nothing to do is idle.
      this.#idleTimer.refresh();
      return;
    }
    this.context.log.debug({ idleTimeoutMs: this.#idleTimeoutMs }, 'closing idle connection');
    this.destroy('idle');
  };

  readonly #onEnd = (): void => {
    // The client half-closed: answer what it sent, then close our side (allowHalfOpen on the server).
    if (this.#closeReason !== 'client') return;
    // A 'data' socket ends only after every byte was delivered; direct reads may still hold a backlog.
    if (this.#backlog.length > 0) this.#endAfterBacklog = true;
    else this.#startDraining();
  };

  readonly #onError = (error: Error): void => {
    if (this.#closeReason === 'client') this.#closeReason = 'error';
    this.context.log.debug({ err: error }, 'socket error');
  };

  readonly #onClose = (): void => {
    this.#isClosed = true;
    clearTimeout(this.#idleTimer);
    this.#budget.release();
    this.#held = null;
    this.#abort.abort(new Error(`connection closed (${this.#closeReason})`));
    this.#pipeline.close();
    this.#metrics.connectionsActive.dec();
    this.#metrics.connectionsClosedTotal.inc({ reason: this.#closeReason });
    this.context.log.debug(
      { reason: this.#closeReason, requests: this.#requests, bytesIn: this.#bytesIn, bytesOut: this.#writer.bytesOut },
      'connection closed',
    );
    this.#resolveClosed();
  };
}
