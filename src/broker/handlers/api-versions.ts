import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { ApiVersionsResponse } from '../../protocol/messages/index.ts';
import { defineApi, type AnyApiHandler } from '../api-handler.ts';

export interface ApiVersionRange {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
}

/** The ApiVersions body; also used by dispatch for the KIP-511 answer to an unsupported version. */
export function apiVersionsBody(apis: readonly ApiVersionRange[], errorCode: number): ApiVersionsResponse {
  return {
    errorCode,
    apiKeys: apis.map((api) => ({ apiKey: api.apiKey, minVersion: api.minVersion, maxVersion: api.maxVersion })),
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1n,
    finalizedFeatures: [],
    zkMigrationReady: false,
  };
}

/** ApiVersions advertises exactly the API table: `listApis` reads it (the table imports this module). */
export function createApiVersionsHandler(listApis: () => readonly ApiVersionRange[]): AnyApiHandler {
  return defineApi({
    apiKey: ApiKey.ApiVersions,
    name: 'ApiVersions',
    minVersion: 0,
    maxVersion: 4,
    async handle() {
      return apiVersionsBody(listApis(), ErrorCode.NONE);
    },
    errorResponse(_request, errorCode) {
      return apiVersionsBody(listApis(), errorCode);
    },
  });
}
