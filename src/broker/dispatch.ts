/**
 * The boundary between the network server and request handling.
 * (Interface first; the implementation lands with the API table.)
 */
import type { Logger } from 'pino';

export interface ConnectionContext {
  /** Unique per process. */
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly log: Logger;
  /** Aborted when the connection closes; long polls listen to it. */
  readonly signal: AbortSignal;
}

/**
 * handle() receives one request frame (without its 4-byte size prefix; the Buffer may be a view
 * into a larger one and must not be retained past the returned promise unless copied — records are
 * the exception: handlers own them) and returns the response frame as chunks WITHOUT the size
 * prefix, or null when the request gets no response (Produce with acks=0).
 * It rejects only when the connection must be closed (malformed frame): a KafscaleError with code
 * KSC_PROTOCOL_MALFORMED. Every other failure becomes a Kafka error code inside a response.
 *
 * The server calls handle() for pipelined frames in arrival order without waiting for earlier ones to
 * finish, and writes responses strictly in request order.
 */
export interface RequestDispatcher {
  handle(frame: Buffer, connection: ConnectionContext): Promise<readonly Buffer[] | null>;
}
