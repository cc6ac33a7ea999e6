/**
 * How the router talks to one broker by address: a client's frame forwarded as it is, or a request the
 * proxy encoded, over the broker's shared pipelined connection or over an exclusive one (requests the
 * broker may hold: Fetch long polls, JoinGroup, SyncGroup; see upstream-pool.ts).
 */
import type { Encodable, RequestByKey } from '../protocol/codec/index.ts';
import type { EnvelopeSender } from '../protocol/envelope.ts';
import type { FetchReadAhead } from './fetch-read-ahead.ts';
import type { ProxyApiKey, UpstreamConnection } from './upstream-connection.ts';
import type { UpstreamPool } from './upstream-pool.ts';
import type { ProduceOrder } from '../protocol/produce-order.ts';

export interface ClientRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  /** The whole request frame without its size prefix (header + body); forwarded by reference. */
  readonly frame: Buffer;
  readonly bodyOffset: number;
  /** The client connection's kept Fetch answers (fetch-read-ahead.ts); absent: nothing is kept between requests. */
  readonly readAhead?: FetchReadAhead;
  /** The client connection's Produce refusals (protocol/produce-order.ts); absent: sequence gaps pass as they are. */
  readonly produceOrder?: ProduceOrder;
  /**
   * Who the client is, when the proxy forwards principals (docs/design/proxy.md, "Security"): every
   * request to a broker then goes in an Envelope, so the broker authorizes it as this principal.
   */
  readonly sender?: EnvelopeSender;
}

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

export class BrokerLink {
  readonly #pool: UpstreamPool;

  constructor(pool: UpstreamPool) {
    this.#pool = pool;
  }

  /** Forwards the client's frame (its correlation id is rewritten); resolves with the response frame. */
  async forward(address: string, request: ClientRequest, timeoutMs: number, exclusive: boolean): Promise<Buffer> {
    const as = request.sender ?? null;
    if (!exclusive) return (await this.#shared(address)).forward(request.frame, timeoutMs, true, as) as Promise<Buffer>;
    return this.#withExclusive(address, (connection) => connection.forward(request.frame, timeoutMs, true, as) as Promise<Buffer>);
  }

  /** Encodes `body` at the client's version and sends it; resolves with the response frame. */
  async send<K extends ProxyApiKey>(
    address: string,
    apiKey: K,
    request: ClientRequest,
    body: Partial<Encodable<RequestByKey[K]>>,
    timeoutMs: number,
    exclusive: boolean,
  ): Promise<Buffer> {
    const as = request.sender ?? null;
    if (!exclusive) return (await this.#shared(address)).requestFrame(apiKey, request.apiVersion, request.clientId, body, timeoutMs, as);
    return this.#withExclusive(address, (connection) => connection.requestFrame(apiKey, request.apiVersion, request.clientId, body, timeoutMs, as));
  }

  /** For requests without an answer (Produce acks=0): the frame as it is, or an encoded body. */
  async sendOneWay(address: string, request: ClientRequest, body: Partial<Encodable<RequestByKey[0]>> | null): Promise<void> {
    const connection = await this.#shared(address);
    const as = request.sender ?? null;
    if (body === null) {
      await connection.forward(request.frame, 0, false, as);
      return;
    }
    connection.sendOneWay(0, request.apiVersion, request.clientId, body, as);
  }

  #shared(address: string): Promise<UpstreamConnection> {
    const { host, port } = splitAddress(address);
    return this.#pool.broker(host, port).shared();
  }

  async #withExclusive(address: string, use: (connection: UpstreamConnection) => Promise<Buffer>): Promise<Buffer> {
    const { host, port } = splitAddress(address);
    const broker = this.#pool.broker(host, port);
    const connection = await broker.acquire();
    try {
      return await use(connection);
    } finally {
      broker.release(connection);
    }
  }
}
