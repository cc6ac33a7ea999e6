/**
 * What a SASL connection may send: before it has authenticated, or after its session expired without
 * re-authentication (KIP-368), only ApiVersions and the SASL requests, in frames of at most Kafka's
 * sasl.server.max.receive.size — so an unauthenticated client cannot make the broker buffer up to
 * socket.request.max.bytes.
 */
import type { SaslConnectionState } from '../broker/dispatch.ts';
import { SASL_MAX_RECEIVE_BYTES } from '../protocol/frame.ts';

/**
 * ApiVersions (18), SaslHandshake (17) and SaslAuthenticate (36): all a SASL connection may send
 * before it has authenticated, or after its session expired without re-authentication (KIP-368).
 */
const PRE_AUTHENTICATION_API_KEYS: ReadonlySet<number> = new Set([17, 18, 36]);


/** The state of a connection on a SASL listener, before its first SaslHandshake. */
export function newSaslState(mechanisms: readonly string[]): SaslConnectionState {
  return { mechanisms, authenticated: false, mechanism: null, exchange: null, handshakeVersion: 1, sessionExpiresAtMs: 0, closeAfterResponse: false };
}

/** Whether a SASL connection may have this whole frame dispatched now. */
export function saslAdmits(sasl: SaslConnectionState, frame: Buffer): boolean {
  if (!sasl.authenticated && frame.length > SASL_MAX_RECEIVE_BYTES) return false;
  if (sasl.closeAfterResponse) return false;
  // After a v0 SaslHandshake the next frame is a raw SASL token (no Kafka header) for the dispatcher.
  if (sasl.handshakeVersion === 0 && sasl.mechanism !== null) return true;
  if (frame.length >= 2 && PRE_AUTHENTICATION_API_KEYS.has(frame.readInt16BE(0))) return true;
  return sasl.authenticated && (sasl.sessionExpiresAtMs === 0 || Date.now() < sasl.sessionExpiresAtMs);
}

/** True when a frame of `frameBytes` (announced by its size prefix, body not yet read) is refused before authentication. */
export function tooLargeBeforeAuthentication(sasl: SaslConnectionState | null, frameBytes: number | null): boolean {
  return sasl !== null && !sasl.authenticated && frameBytes !== null && frameBytes > SASL_MAX_RECEIVE_BYTES;
}
