/**
 * SaslHandshake (v0–1) and SaslAuthenticate (v0–2): they advance the connection's SASL state
 * (ConnectionContext.sasl), which the server reads to gate every other request. Kafka's rules:
 * - the handshake names a mechanism the listener offers, else UNSUPPORTED_SASL_MECHANISM and close;
 * - a v1 handshake is followed by SaslAuthenticate requests; a v0 handshake by raw SASL tokens without
 *   Kafka headers (handled by `authenticateRawToken`, called by the dispatcher);
 * - failed authentication answers SASL_AUTHENTICATION_FAILED after `authFailureDelayMs`, with one
 *   message whatever failed (unknown user, wrong password, bad nonce), and closes the connection;
 * - success sets the principal and, with connections.max.reauth.ms, the session lifetime (KIP-368).
 *   A re-authentication must keep the principal.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { SaslAuthenticateResponse } from '../../protocol/messages/index.ts';
import type { SaslExchange } from '../../services/security/index.ts';
import { defineApi } from '../api-handler.ts';
import type { RequestContext } from '../broker-services.ts';
import type { ConnectionContext, SaslConnectionState } from '../dispatch.ts';

export const saslHandshakeApi = defineApi({
  apiKey: ApiKey.SaslHandshake,
  name: 'SaslHandshake',
  minVersion: 0,
  maxVersion: 1,
  async handle(request, context) {
    const sasl = context.connection?.sasl ?? null;
    if (sasl === null) {
      // A listener without SASL (PLAINTEXT, SSL): Kafka answers ILLEGAL_SASL_STATE.
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
    }
    if (sasl.mechanism !== null) {
      sasl.closeAfterResponse = true;
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [...sasl.mechanisms] };
    }
    const exchange = sasl.mechanisms.includes(request.mechanism) ? context.services.security.authenticator.start(request.mechanism) : undefined;
    if (exchange === undefined) {
      context.log.info({ mechanism: request.mechanism.slice(0, 40), offered: sasl.mechanisms }, 'SASL handshake with a mechanism this listener does not offer; closing the connection');
      sasl.closeAfterResponse = true;
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: [...sasl.mechanisms] };
    }
    sasl.mechanism = request.mechanism;
    sasl.exchange = exchange;
    sasl.handshakeVersion = context.apiVersion;
    return { errorCode: ErrorCode.NONE, mechanisms: [...sasl.mechanisms] };
  },
  errorResponse(_request, errorCode, _message, context) {
    const sasl = context.connection?.sasl ?? null;
    if (sasl !== null) sasl.closeAfterResponse = true;
    return { errorCode, mechanisms: [...(sasl?.mechanisms ?? [])] };
  },
});

export const saslAuthenticateApi = defineApi({
  apiKey: ApiKey.SaslAuthenticate,
  name: 'SaslAuthenticate',
  minVersion: 0,
  maxVersion: 2,
  async handle(request, context) {
    const connection = context.connection;
    const sasl = connection?.sasl ?? null;
    if (connection === undefined || sasl === null || sasl.mechanism === null || sasl.handshakeVersion === 0) {
      if (sasl !== null) sasl.closeAfterResponse = true;
      return authenticateResponse(ErrorCode.ILLEGAL_SASL_STATE, 'SaslAuthenticate is allowed only after a SaslHandshake v1 on a SASL listener', 0n);
    }
    const outcome = await step(connection, sasl, request.authBytes, context);
    if (outcome.kind === 'challenge') return { ...authenticateResponse(ErrorCode.NONE, null, 0n), authBytes: outcome.response };
    if (outcome.kind === 'success') return { ...authenticateResponse(ErrorCode.NONE, null, BigInt(outcome.sessionLifetimeMs)), authBytes: outcome.response };
    return authenticateResponse(ErrorCode.SASL_AUTHENTICATION_FAILED, outcome.message, 0n);
  },
  errorResponse(_request, errorCode, _message, context) {
    const sasl = context.connection?.sasl ?? null;
    if (sasl !== null) sasl.closeAfterResponse = true;
    // Never echo an internal message to an unauthenticated client.
    return authenticateResponse(errorCode, 'Authentication failed because of a broker error; see the broker log', 0n);
  },
});

function authenticateResponse(errorCode: number, errorMessage: string | null, sessionLifetimeMs: bigint): SaslAuthenticateResponse {
  return { errorCode, errorMessage, authBytes: Buffer.alloc(0), sessionLifetimeMs };
}

type StepOutcome =
  | { readonly kind: 'challenge'; readonly response: Buffer }
  | { readonly kind: 'success'; readonly response: Buffer; readonly sessionLifetimeMs: number }
  | { readonly kind: 'failure'; readonly message: string };

/** One SASL token through the connection's exchange; applies success and failure to the connection. */
async function step(connection: ConnectionContext, sasl: SaslConnectionState, token: Buffer, context: Pick<RequestContext, 'services' | 'log'>): Promise<StepOutcome> {
  const exchange = sasl.exchange as SaslExchange;
  const mechanism = exchange.mechanism;
  const { authenticator, authFailureDelayMs, connectionsMaxReauthMs } = context.services.security;
  const result = exchange.step(token);
  if (result.kind === 'challenge') return result;
  sasl.mechanism = null;
  sasl.exchange = null;
  const principal = result.kind === 'success' ? `User:${result.user}` : null;
  if (principal !== null && (!sasl.authenticated || principal === connection.principal)) {
    const reauthenticated = sasl.authenticated;
    connection.principal = principal;
    sasl.authenticated = true;
    sasl.sessionExpiresAtMs = connectionsMaxReauthMs > 0 ? Date.now() + connectionsMaxReauthMs : 0;
    authenticator.observe(mechanism, 'success');
    context.log.info({ principal, mechanism, reauthenticated }, reauthenticated ? 'SASL re-authentication succeeded' : 'SASL authentication succeeded');
    return { kind: 'success', response: (result as { response: Buffer }).response, sessionLifetimeMs: connectionsMaxReauthMs };
  }
  const reason = result.kind === 'failure' ? result.reason : `re-authentication as ${principal ?? '?'} on a connection of ${connection.principal}`;
  authenticator.observe(mechanism, 'failure');
  // The reason is for operators only: the client's message must not tell an unknown user from a wrong password.
  context.log.warn({ mechanism, reason, remote: connection.remoteAddress }, 'SASL authentication failed; closing the connection');
  sasl.closeAfterResponse = true;
  if (authFailureDelayMs > 0) await sleep(authFailureDelayMs, undefined, { signal: connection.signal }).catch(() => undefined);
  return { kind: 'failure', message: `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}` };
}

/**
 * A raw SASL token after a v0 SaslHandshake (Kafka's pre-KIP-152 framing): the frame is the token
 * itself, the answer is the server's token, size-prefixed, without a Kafka header. Failure has no
 * answer in this framing: the connection closes.
 */
export async function authenticateRawToken(frame: Buffer, connection: ConnectionContext, context: Pick<RequestContext, 'services' | 'log'>): Promise<readonly Buffer[] | null> {
  const sasl = connection.sasl as SaslConnectionState;
  const outcome = await step(connection, sasl, Buffer.from(frame), context);
  return outcome.kind === 'failure' ? null : [outcome.response];
}
