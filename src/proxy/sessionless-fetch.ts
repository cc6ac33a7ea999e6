/**
 * The proxy serves Fetch without fetch sessions (KIP-227), on both sides (docs/design/fetch-sessions.md,
 * "Through the proxy"): a client's partitions may live on several brokers, each with its own session
 * cache, and a client Fetch may be split, merged and answered partly from read-ahead, so no one broker
 * session can stand for the client's. Towards the brokers every Fetch is a sessionless full fetch
 * (session id 0, epoch -1: FINAL_EPOCH), so brokers never keep a session for the proxy; towards the
 * client every answer carries session id 0, which tells it to keep sending full fetches.
 */
import { encodeResponse } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';

const INVALID_SESSION_ID = 0;
const FINAL_EPOCH = -1;
/** SessionId/SessionEpoch exist from Fetch v7. */
const FIRST_SESSION_VERSION = 7;
/** v15 dropped ReplicaId (int32) from the fixed head of the body. */
const REPLICA_ID_DROPPED_VERSION = 15;

/**
 * Where SessionId sits in a Fetch request body: after ReplicaId (v7–14), MaxWaitMs, MinBytes, MaxBytes
 * (int32 each) and IsolationLevel (int8); SessionEpoch follows it. Tagged fields of v12+ come at the
 * end of the body, not here.
 */
function sessionIdOffset(apiVersion: number): number {
  return apiVersion >= REPLICA_ID_DROPPED_VERSION ? 13 : 17;
}

/**
 * What the proxy does with a client's Fetch: 'forward' (sessionless, possibly after rewriting), or the
 * error code that answers it: an incremental fetch names a session the proxy never handed out.
 */
export function sessionlessFetch(apiVersion: number, frame: Buffer, bodyOffset: number, request: Record<string, unknown>): 'forward' | number {
  if (apiVersion < FIRST_SESSION_VERSION) return 'forward';
  const sessionId = request['sessionId'] as number;
  const sessionEpoch = request['sessionEpoch'] as number;
  // Kafka: epoch 0 or -1 is a full fetch (a session id with it only closes that session).
  if (sessionEpoch !== 0 && sessionEpoch !== FINAL_EPOCH) return ErrorCode.FETCH_SESSION_ID_NOT_FOUND;
  if (sessionId === INVALID_SESSION_ID && sessionEpoch === FINAL_EPOCH) return 'forward';
  // The client's frame is forwarded by reference when one broker owns everything: rewrite it in place.
  const at = bodyOffset + sessionIdOffset(apiVersion);
  frame.writeInt32BE(INVALID_SESSION_ID, at);
  frame.writeInt32BE(FINAL_EPOCH, at + 4);
  request['sessionId'] = INVALID_SESSION_ID;
  request['sessionEpoch'] = FINAL_EPOCH;
  return 'forward';
}

/** A Fetch answer with only a top-level error (and session id 0). */
export function fetchErrorResponse(apiVersion: number, correlationId: number, errorCode: number): Buffer[] {
  return encodeResponse(1, apiVersion, correlationId, { throttleTimeMs: 0, errorCode, sessionId: INVALID_SESSION_ID, responses: [], nodeEndpoints: [] });
}
