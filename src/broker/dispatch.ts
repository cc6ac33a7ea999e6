/**
 * The boundary between the network server and request handling, and the single place where exceptions
 * become Kafka error codes: decode → handler → encode.
 */
import type { Logger } from 'pino';
import { ApiKey } from '../protocol/api-keys.ts';
import { decodeRequest, decodeRequestHeader, encodeResponse, type Encodable } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { RequestByKey, ResponseByKey } from '../protocol/messages/index.ts';
import { ProtocolError } from '../protocol/protocol-error.ts';
import { kafkaErrorOf } from '../telemetry/kafscale-error.ts';
import type { ApiKeyOf } from './api-handler.ts';
import type { ApiTable } from './api-table.ts';
import type { BrokerServices, RequestContext } from './broker-services.ts';
import { apiVersionsBody } from './handlers/api-versions.ts';
import { authenticateRawToken } from './handlers/sasl.ts';
import { BoundedKeySet } from './bounded-key-set.ts';
import { ProduceOrder } from '../protocol/produce-order.ts';
import { readEnvelopeRequest, wrapResponse, ENVELOPE_VERSION } from '../protocol/envelope.ts';
import { AclOperation, CLUSTER_RESOURCE_NAME, ResourceType } from '../protocol/acl-codes.ts';

/** How many (client id, API, version) triples of unsupported requests are remembered as already logged. */
const UNSUPPORTED_LOGGED_MAX_KEYS = 1024;

/** The principal of a connection that has not authenticated (Kafka's `User:ANONYMOUS`). */
export const ANONYMOUS_PRINCIPAL = 'User:ANONYMOUS';
/** A forwarded principal must look like `Type:name` (User:alice). */
const PRINCIPAL_FORMAT = /^[A-Za-z][A-Za-z0-9_-]*:.+$/;
/** APIs that may not travel inside an Envelope: authentication belongs to the outer connection. */
const NOT_IN_ENVELOPE: ReadonlySet<number> = new Set([ApiKey.Envelope, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);

/** The listener name of the single plaintext listener. */
export const DEFAULT_LISTENER_NAME = 'PLAINTEXT';

export interface ConnectionContext {
  /** Unique per process. */
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly log: Logger;
  /** Aborted when the connection closes; long polls listen to it. */
  readonly signal: AbortSignal;
  /**
   * Who the client is: 'User:ANONYMOUS' until SASL authentication succeeds or a TLS client certificate
   * is mapped (then e.g. 'User:alice'). The ACL authorizer reads it.
   */
  principal: string;
  /** The listener the client connected to (PLAINTEXT, SASL_SSL or a custom name); Metadata answers with its addresses. */
  readonly listenerName: string;
  /** SASL state of the connection; null on listeners without SASL (PLAINTEXT, SSL). */
  readonly sasl: SaslConnectionState | null;
  /** Keeps pipelined Produce requests in step after a refusal; absent where nothing pipelines (tests). */
  readonly produceOrder?: ProduceOrder;
}

/**
 * Per-connection SASL state: created by the server for a SASL listener, advanced by the SaslHandshake
 * and SaslAuthenticate handlers, and read by the server to gate every other request
 * (docs/security.md): nothing but ApiVersions and SASL before authentication, and nothing but those
 * once the session has expired without re-authentication (KIP-368).
 */
export interface SaslConnectionState {
  /** Mechanisms the listener offers (KAFSCALE_SASL_MECHANISMS). */
  readonly mechanisms: readonly string[];
  /** True once the connection has authenticated (stays true while it re-authenticates). */
  authenticated: boolean;
  /** The mechanism chosen by the last SaslHandshake; null when none is pending. */
  mechanism: string | null;
  /** The running exchange (owned by the SASL handlers), or null. */
  exchange: unknown;
  /** Version of the last SaslHandshake: v0 means raw SASL tokens without Kafka headers follow. */
  handshakeVersion: number;
  /** Date.now() after which requests other than SASL close the connection; 0: never (KIP-368). */
  sessionExpiresAtMs: number;
  /** Set by a handler whose response is the connection's last (failed authentication): the server closes after writing it. */
  closeAfterResponse: boolean;
}

/**
 * handle() receives one request frame (without its 4-byte size prefix; the Buffer may be a view
 * into a larger one and must not be retained past the returned promise unless copied — records are
 * the exception: handlers own them) and returns the response frame as chunks WITHOUT the size
 * prefix, or null when the request gets no response (Produce with acks=0).
 * It rejects only when the connection must be closed (malformed frame, unknown API or version):
 * a ProtocolError. Every other failure becomes a Kafka error code inside a response.
 *
 * The server calls handle() for pipelined frames in arrival order without waiting for earlier ones to
 * finish, and writes responses strictly in request order.
 */
export interface RequestDispatcher {
  handle(frame: Buffer, connection: ConnectionContext): Promise<readonly Buffer[] | null>;
  /**
   * A new connection's Produce ordering state (ConnectionContext.produceOrder): the server calls its
   * received() as it hands each frame to handle() and written() as each response goes out.
   */
  newProduceOrder(): ProduceOrder;
}

/**
 * Observes every handled request (metrics); called once per request, after the response is built and
 * before it is encoded. `request` and `response` are the decoded request and the response object (null
 * for a request without a response); an observer must not keep or change them.
 */
export type RequestObserver = (apiKey: number, apiVersion: number, durationMs: number, failed: boolean, request: unknown, response: unknown) => void;

export class Dispatcher implements RequestDispatcher {
  readonly #table: ApiTable;
  readonly #services: BrokerServices;
  readonly #observe: RequestObserver;
  readonly #unsupportedLogged = new BoundedKeySet(UNSUPPORTED_LOGGED_MAX_KEYS);

  constructor(table: ApiTable, services: BrokerServices, observe: RequestObserver = () => {}) {
    this.#table = table;
    this.#services = services;
    this.#observe = observe;
  }

  newProduceOrder(): ProduceOrder {
    return new ProduceOrder();
  }

  async handle(frame: Buffer, connection: ConnectionContext): Promise<readonly Buffer[] | null> {
    const startedMs = performance.now();
    const sasl = connection.sasl;
    if (sasl !== null && sasl.handshakeVersion === 0 && sasl.mechanism !== null) {
      // After a v0 SaslHandshake the next frame is a raw SASL token, not a Kafka request.
      return authenticateRawToken(frame, connection, { services: this.#services, log: connection.log });
    }
    const header = decodeRequestHeader(frame);
    if (header.apiKey === ApiKey.Envelope) return this.#envelope(frame, header, connection);
    const handler = this.#table.get(header.apiKey);
    if (handler === undefined) {
      connection.log.warn({ apiKey: header.apiKey, apiVersion: header.apiVersion, clientId: header.clientId }, 'unknown API key; closing the connection');
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `unknown API key ${header.apiKey}`);
    }
    if (header.apiVersion < handler.minVersion || header.apiVersion > handler.maxVersion) {
      if (header.apiKey === ApiKey.ApiVersions) {
        // KIP-511: answer an unknown ApiVersions version with v0 carrying UNSUPPORTED_VERSION and the table.
        return encodeResponse(ApiKey.ApiVersions, 0, header.correlationId, apiVersionsBody(this.#table.ranges(), ErrorCode.UNSUPPORTED_VERSION));
      }
      // Kafka closes the connection too. A client retries on every new connection: log once per
      // (client id, API, version), remembering a bounded number of them.
      if (this.#unsupportedLogged.add(`${header.clientId ?? ''}\0${header.apiKey}\0${header.apiVersion}`)) {
        connection.log.warn(
          { api: handler.name, apiVersion: header.apiVersion, supported: `${handler.minVersion}-${handler.maxVersion}`, clientId: header.clientId },
          'unsupported API version; closing the connection (logged once per client id, API and version)',
        );
      }
      throw new ProtocolError('KSC_PROTOCOL_UNSUPPORTED_VERSION', `${handler.name} v${header.apiVersion} is not supported (${handler.minVersion}-${handler.maxVersion})`);
    }
    const apiKey = header.apiKey as ApiKeyOf;
    let request: RequestByKey[ApiKeyOf];
    try {
      request = decodeRequest(apiKey, header.apiVersion, frame, header.bodyOffset);
    } catch (error) {
      connection.log.warn({ err: error, api: handler.name, apiVersion: header.apiVersion, clientId: header.clientId }, 'malformed request; closing the connection');
      throw error;
    }
    const context: RequestContext = {
      apiKey,
      apiVersion: header.apiVersion,
      correlationId: header.correlationId,
      clientId: header.clientId,
      remoteAddress: connection.remoteAddress,
      principal: connection.principal,
      listenerName: connection.listenerName,
      connection,
      log: connection.log,
      signal: connection.signal,
      services: this.#services,
    };
    let response: Encodable<ResponseByKey[ApiKeyOf]> | null;
    let failed = false;
    try {
      response = await handler.handle(request, context);
    } catch (error) {
      failed = true;
      const { errorCode, message } = errorCodeFor(error);
      connection.log.error(
        { err: error, api: handler.name, apiVersion: header.apiVersion, correlationId: header.correlationId, clientId: header.clientId, errorCode },
        'request failed; answering with an error code',
      );
      response = handler.errorResponse(request, errorCode, message, context);
    }
    this.#observe(apiKey, header.apiVersion, performance.now() - startedMs, failed, request, response);
    if (response === null) return null;
    return encodeResponse(apiKey, header.apiVersion, header.correlationId, response);
  }

  /**
   * Envelope (KIP-590): a request the proxy forwards on behalf of a client it authenticated
   * (docs/design/proxy.md, "Security"). Only a connection whose principal may CLUSTER_ACTION on the
   * cluster may send one (with the ACL authorizer: a super user or an explicit ACL; without it anyone,
   * as every principal may do everything then). The inner request is then handled exactly as if it had
   * arrived from the client: authorized as the carried principal, with the client's address. An inner
   * request the broker cannot read gets an error in the Envelope answer instead of closing the
   * connection, which carries other clients' requests too; the proxy closes that client's connection.
   */
  async #envelope(frame: Buffer, header: EnvelopeHeader, connection: ConnectionContext): Promise<readonly Buffer[] | null> {
    if (header.apiVersion !== ENVELOPE_VERSION || header.bodyOffset < 0) {
      throw new ProtocolError('KSC_PROTOCOL_UNSUPPORTED_VERSION', `Envelope v${header.apiVersion} is not supported (0-0)`);
    }
    const body = readEnvelopeRequest(frame, header.bodyOffset);
    const refuse = (errorCode: number, reason: string): Buffer[] => {
      connection.log.warn({ principal: connection.principal, forwarded: body.principal, remote: connection.remoteAddress, clientId: header.clientId, errorCode }, reason);
      return wrapResponse(header.correlationId, null, errorCode);
    };
    const requester = { principal: connection.principal, remoteAddress: connection.remoteAddress };
    if (!this.#services.authorizer.authorize(requester, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME)) {
      return refuse(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Envelope from a principal without CLUSTER_ACTION on the cluster; refused');
    }
    if (body.principal === null || !PRINCIPAL_FORMAT.test(body.principal)) return refuse(ErrorCode.INVALID_REQUEST, 'Envelope without a principal of the form Type:name; refused');
    let innerApiKey: number;
    try {
      innerApiKey = decodeRequestHeader(body.requestData).apiKey;
    } catch {
      return refuse(ErrorCode.INVALID_REQUEST, 'Envelope with an unreadable inner request header; refused');
    }
    if (NOT_IN_ENVELOPE.has(innerApiKey)) return refuse(ErrorCode.INVALID_REQUEST, `Envelope carrying apiKey ${innerApiKey}, which may not be forwarded; refused`);
    const inner: ConnectionContext = { ...connection, principal: body.principal, remoteAddress: body.clientHost, sasl: null };
    let chunks: readonly Buffer[] | null;
    try {
      chunks = await this.handle(body.requestData, inner);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      const code = error.code === 'KSC_PROTOCOL_UNSUPPORTED_VERSION' ? ErrorCode.UNSUPPORTED_VERSION : ErrorCode.INVALID_REQUEST;
      return refuse(code, `Envelope with an inner request the broker cannot serve (${error.message}); answered with an error`);
    }
    return chunks === null ? null : wrapResponse(header.correlationId, chunks, ErrorCode.NONE);
  }
}

/** The header fields the Envelope handler reads. */
interface EnvelopeHeader {
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  readonly bodyOffset: number;
}

/** How infrastructure faults and bugs are reported to clients: the error catalogue's Kafka error for the code. */
export function errorCodeFor(error: unknown): { errorCode: number; message: string } {
  const { kafkaError, message } = kafkaErrorOf(error);
  return { errorCode: ErrorCode[kafkaError], message };
}
