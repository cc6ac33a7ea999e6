import type { Encodable } from '../protocol/codec/index.ts';
import type { RequestByKey, ResponseByKey } from '../protocol/messages/index.ts';
import type { RequestContext } from './broker-services.ts';

export type ApiKeyOf = keyof RequestByKey & keyof ResponseByKey;

/**
 * One row of the API table: the versions kafscale serves for an API, the handler, and how to answer
 * when the request as a whole failed (every partition / group / resource gets the code).
 */
export interface ApiHandler<K extends ApiKeyOf> {
  readonly apiKey: K;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /**
   * Returns null only when the request gets no response (Produce with acks=0). Records fields may be
   * lists of stored batches, written by reference (Encodable).
   */
  handle(request: RequestByKey[K], context: RequestContext): Promise<Encodable<ResponseByKey[K]> | null>;
  errorResponse(request: RequestByKey[K], errorCode: number, errorMessage: string, context: RequestContext): Encodable<ResponseByKey[K]>;
}

/** Erases the key parameter so rows of different APIs fit one table. */
export type AnyApiHandler = ApiHandler<ApiKeyOf>;

export function defineApi<K extends ApiKeyOf>(handler: ApiHandler<K>): AnyApiHandler {
  return handler as unknown as AnyApiHandler;
}
