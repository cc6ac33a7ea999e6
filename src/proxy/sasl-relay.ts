/**
 * SASL at the proxy (docs/design/proxy.md, "Security"): the proxy holds no credentials, so a client's
 * SASL exchange is relayed to a broker over a fresh upstream connection of its own (TLS as configured,
 * no proxy login). The broker checks the password or SCRAM proof against the metadata store, applies
 * its failure delay and answers; the proxy passes every answer on. When the broker accepts the last
 * step, the client connection is authenticated as the user named in the exchange, and its requests
 * reach brokers in Envelopes carrying that principal.
 *
 * Kafka's rules for the client connection hold as on a broker: only ApiVersions, SaslHandshake and
 * SaslAuthenticate before authentication (or after the session lifetime the broker granted, KIP-368,
 * until the client re-authenticates as the same user); a failed step, an unknown mechanism or an
 * out-of-order request answers and closes the connection. A SaslHandshake v0 (raw tokens without Kafka
 * headers, which no current client sends) closes the connection.
 */
import { ApiKey } from '../protocol/api-keys.ts';
import { decodeRequest, decodeResponse, encodeResponse } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { ClientRequest } from './broker-link.ts';
import type { UpstreamConnection } from './upstream-connection.ts';

/** What a SASL client connection may send before it has authenticated. */
const BEFORE_AUTHENTICATION: ReadonlySet<number> = new Set([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);
/**
 * v0 is advertised because librdkafka only uses SASL when a broker offers SaslHandshake v0 (its feature
 * check), though it then sends v1; a v0 handshake (raw tokens without Kafka headers) is not relayed.
 */
export const SASL_HANDSHAKE_VERSIONS = { minVersion: 0, maxVersion: 1 } as const;
export const SASL_AUTHENTICATE_VERSIONS = { minVersion: 0, maxVersion: 2 } as const;
const RELAY_HANDSHAKE_VERSION = 1;

/** Opens an upstream connection to some broker's SASL listener, without logging in. */
export type RelayOpener = () => Promise<UpstreamConnection>;

/** The user a client names in its first SASL token (PLAIN: authcid; SCRAM: the `n=` attribute), or null. */
export function saslUserOf(mechanism: string, firstToken: Buffer): string | null {
  const text = firstToken.toString('utf8');
  if (mechanism === 'PLAIN') {
    const parts = text.split('\0');
    return parts.length === 3 && parts[1] !== undefined && parts[1] !== '' ? parts[1] : null;
  }
  // SCRAM client-first-message: gs2-header ("n,," or "n,a=authzid,") then "n=user,r=nonce".
  const bare = text.split(',').slice(2);
  const name = bare.find((attribute) => attribute.startsWith('n='));
  if (name === undefined) return null;
  const user = name.slice(2).replaceAll('=2C', ',').replaceAll('=3D', '=');
  return user === '' ? null : user;
}

/** The SASL state of one client connection of the proxy. */
export class SaslSession {
  readonly #mechanisms: readonly string[];
  readonly #openRelay: RelayOpener;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  #authenticated = false;
  #principal: string | null = null;
  #mechanism: string | null = null;
  #user: string | null = null;
  #steps = 0;
  #relay: UpstreamConnection | null = null;
  #sessionExpiresAtMs = 0;
  /** Set when the answer being built is the connection's last one. */
  closeAfterResponse = false;

  constructor(mechanisms: readonly string[], openRelay: RelayOpener, timeoutMs: number, log: Logger) {
    this.#mechanisms = mechanisms;
    this.#openRelay = openRelay;
    this.#timeoutMs = timeoutMs;
    this.#log = log;
  }

  /** `User:name` once authenticated; null before. */
  get principal(): string | null {
    return this.#authenticated ? this.#principal : null;
  }

  /** Whether the connection may send a request of this API now. */
  allows(apiKey: number): boolean {
    if (this.closeAfterResponse) return false;
    if (BEFORE_AUTHENTICATION.has(apiKey)) return true;
    return this.#authenticated && (this.#sessionExpiresAtMs === 0 || Date.now() < this.#sessionExpiresAtMs);
  }

  /** True while the connection has not authenticated (a re-authenticating one has). */
  get unauthenticated(): boolean {
    return !this.#authenticated;
  }

  async handle(req: ClientRequest): Promise<Buffer[]> {
    return req.apiKey === ApiKey.SaslHandshake ? this.#handshake(req) : this.#authenticate(req);
  }

  close(): void {
    this.#relay?.close();
    this.#relay = null;
  }

  async #handshake(req: ClientRequest): Promise<Buffer[]> {
    const request = decodeRequest(ApiKey.SaslHandshake, req.apiVersion, req.frame, req.bodyOffset);
    const answer = (errorCode: number): Buffer[] => encodeResponse(ApiKey.SaslHandshake, req.apiVersion, req.correlationId, { errorCode, mechanisms: [...this.#mechanisms] });
    if (this.#mechanism !== null) return this.#fail(answer(ErrorCode.ILLEGAL_SASL_STATE), 'a second SaslHandshake before the exchange ended');
    if (!this.#mechanisms.includes(request.mechanism)) {
      return this.#fail(answer(ErrorCode.UNSUPPORTED_SASL_MECHANISM), `SASL mechanism ${request.mechanism.slice(0, 40)} is not offered`);
    }
    const relay = await this.#openRelay();
    this.#relay = relay;
    const upstream = await relay.request(ApiKey.SaslHandshake, RELAY_HANDSHAKE_VERSION, req.clientId, { mechanism: request.mechanism }, this.#timeoutMs);
    if (upstream.errorCode !== ErrorCode.NONE) return this.#fail(answer(upstream.errorCode), `the broker refused SASL mechanism ${request.mechanism} (error ${upstream.errorCode})`);
    this.#mechanism = request.mechanism;
    this.#steps = 0;
    this.#user = null;
    return answer(ErrorCode.NONE);
  }

  async #authenticate(req: ClientRequest): Promise<Buffer[]> {
    const request = decodeRequest(ApiKey.SaslAuthenticate, req.apiVersion, req.frame, req.bodyOffset);
    const relay = this.#relay;
    const mechanism = this.#mechanism;
    if (relay === null || mechanism === null) {
      const body = { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'SaslAuthenticate is allowed only after a SaslHandshake', authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n };
      return this.#fail(encodeResponse(ApiKey.SaslAuthenticate, req.apiVersion, req.correlationId, body), 'SaslAuthenticate without a SaslHandshake');
    }
    if (this.#steps === 0) this.#user = saslUserOf(mechanism, request.authBytes);
    this.#steps++;
    // The client's frame goes to the broker as it is (only the correlation id is rewritten).
    const frame = (await relay.forward(req.frame, this.#timeoutMs)) as Buffer;
    frame.writeInt32BE(req.correlationId, 0);
    const answer = decodeResponse(ApiKey.SaslAuthenticate, req.apiVersion, frame).body;
    if (answer.errorCode !== ErrorCode.NONE) return this.#fail([frame], `the broker refused the SASL ${mechanism} login (error ${answer.errorCode})`);
    const complete = mechanism === 'PLAIN' ? this.#steps >= 1 : this.#steps >= 2;
    if (!complete) return [frame];
    this.close();
    this.#mechanism = null;
    const principal = this.#user === null ? null : `User:${this.#user}`;
    if (principal === null || (this.#authenticated && principal !== this.#principal)) {
      const body = { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n };
      const reason = principal === null ? 'the first SASL token names no user' : `re-authentication as ${principal} on a connection of ${this.#principal ?? '?'}`;
      return this.#fail(encodeResponse(ApiKey.SaslAuthenticate, req.apiVersion, req.correlationId, body), reason);
    }
    const reauthenticated = this.#authenticated;
    this.#authenticated = true;
    this.#principal = principal;
    const lifetimeMs = Number(answer.sessionLifetimeMs);
    this.#sessionExpiresAtMs = lifetimeMs > 0 ? Date.now() + lifetimeMs : 0;
    this.#log.info({ principal, mechanism, reauthenticated }, reauthenticated ? 'SASL re-authentication through the proxy succeeded' : 'SASL authentication through the proxy succeeded');
    return [frame];
  }

  #fail(answer: Buffer[], reason: string): Buffer[] {
    this.#log.warn({ reason }, 'SASL exchange failed at the proxy; closing the client connection after the answer');
    this.closeAfterResponse = true;
    this.close();
    return answer;
  }
}
