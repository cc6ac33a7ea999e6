/**
 * Kafka API name ↔ apiKey. The table is generated from the message schemas (messages/index.ts);
 * this module is its stable public face: `ApiKey.Produce === 0`, `apiKeyName(18) === 'ApiVersions'`.
 */
import { API_KEYS } from './messages/index.ts';

export const ApiKey = API_KEYS;

export type ApiName = keyof typeof ApiKey;
export type ApiKeyValue = (typeof ApiKey)[ApiName];

const NAMES: ReadonlyMap<number, ApiName> = new Map((Object.keys(ApiKey) as ApiName[]).map((name) => [ApiKey[name], name]));

/** The API's name, or `Unknown(<key>)` for keys the schemas do not define (useful in logs). */
export function apiKeyName(apiKey: number): string {
  return NAMES.get(apiKey) ?? `Unknown(${apiKey})`;
}
