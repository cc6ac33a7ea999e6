/**
 * Sends requests straight to a broker's dispatcher as a chosen principal — the test stand-in for an
 * authenticated connection until SASL sets principals. It lives in test/ and needs the in-process
 * dispatcher object: nothing on the network can choose its principal.
 *
 *   const alice = new PrincipalClient(app.dispatcher, 'User:alice');
 *   const metadata = await alice.send(3, 12, { topics: null, allowAutoTopicCreation: false });
 */
import { pino } from 'pino';
import type { ConnectionContext, RequestDispatcher } from '../../src/broker/dispatch.ts';
import { decodeResponse, encodeRequest, type Encodable, type RequestByKey, type ResponseByKey } from '../../src/protocol/codec/index.ts';

type ApiKey = keyof RequestByKey & keyof ResponseByKey;

let nextConnectionId = 1_000_000;

export class PrincipalClient {
  readonly connection: ConnectionContext;
  readonly #dispatcher: RequestDispatcher;
  readonly #abort = new AbortController();
  #correlationId = 1;

  constructor(dispatcher: RequestDispatcher | null, principal: string, remoteAddress = '127.0.0.1') {
    if (dispatcher === null) throw new Error('the broker has no dispatcher yet; start it first');
    this.#dispatcher = dispatcher;
    this.connection = {
      id: nextConnectionId++,
      remoteAddress,
      remotePort: 0,
      principal,
      listenerName: 'PLAINTEXT',
      log: pino({ level: 'silent' }),
      signal: this.#abort.signal,
      sasl: null,
    };
  }

  async send<K extends ApiKey>(apiKey: K, version: number, body: Partial<Encodable<RequestByKey[K]>>): Promise<ResponseByKey[K]> {
    const frame = Buffer.concat(encodeRequest(apiKey, version, this.#correlationId++, 'principal-client', body));
    const response = await this.#dispatcher.handle(frame, this.connection);
    if (response === null) throw new Error(`API ${apiKey} v${version} returned no response`);
    return decodeResponse(apiKey, version, Buffer.concat(response)).body;
  }

  /** Sends a whole request frame (no size prefix); resolves with the response frame, or null when none is due. */
  async sendFrame(frame: Buffer): Promise<Buffer | null> {
    const response = await this.#dispatcher.handle(frame, this.connection);
    return response === null ? null : Buffer.concat(response);
  }

  close(): void {
    this.#abort.abort();
  }
}
