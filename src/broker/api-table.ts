import { KafscaleError } from '../errors/kafscale-error.ts';
import type { AnyApiHandler } from './api-handler.ts';
import { aclApis } from './handlers/acls.ts';
import { alterConfigsApi, incrementalAlterConfigsApi } from './handlers/alter-configs.ts';
import { createApiVersionsHandler, type ApiVersionRange } from './handlers/api-versions.ts';
import { createPartitionsApi } from './handlers/create-partitions.ts';
import { createTopicsApi } from './handlers/create-topics.ts';
import { deleteRecordsApi } from './handlers/delete-records.ts';
import { deleteTopicsApi } from './handlers/delete-topics.ts';
import { describeClusterApi } from './handlers/describe-cluster.ts';
import { describeConfigsApi } from './handlers/describe-configs.ts';
import { describeProducersApi } from './handlers/describe-producers.ts';
import { describeTopicPartitionsApi } from './handlers/describe-topic-partitions.ts';
import { fetchApi } from './handlers/fetch.ts';
import { initProducerIdApi } from './handlers/init-producer-id.ts';
import { listOffsetsApi } from './handlers/list-offsets.ts';
import { groupApis } from './handlers/groups/index.ts';
import { metadataApi } from './handlers/metadata.ts';
import { offsetForLeaderEpochApi } from './handlers/offset-for-leader-epoch.ts';
import { produceApi } from './handlers/produce.ts';
import { saslAuthenticateApi, saslHandshakeApi } from './handlers/sasl.ts';
import { alterUserScramCredentialsApi, describeUserScramCredentialsApi } from './handlers/user-scram-credentials.ts';

/**
 * THE API table: apiKey → version range → handler. ApiVersions advertises exactly these rows, and
 * dispatch accepts exactly these (apiKey, version) pairs; nothing else decides what kafscale speaks.
 */
export class ApiTable {
  readonly #byKey = new Map<number, AnyApiHandler>();
  readonly #ranges: ApiVersionRange[];

  constructor(handlers: readonly AnyApiHandler[]) {
    for (const handler of handlers) {
      if (this.#byKey.has(handler.apiKey)) throw new KafscaleError('KSC_INTERNAL', `API ${handler.name} (${handler.apiKey}) is in the table twice`);
      this.#byKey.set(handler.apiKey, handler);
    }
    this.#ranges = [...this.#byKey.values()]
      .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }))
      .sort((a, b) => a.apiKey - b.apiKey);
  }

  get(apiKey: number): AnyApiHandler | undefined {
    return this.#byKey.get(apiKey);
  }

  ranges(): readonly ApiVersionRange[] {
    return this.#ranges;
  }
}

/** The core table of this release; later services add rows through `extra`. */
export function createApiTable(extra: readonly AnyApiHandler[] = []): ApiTable {
  let table: ApiTable | undefined;
  const apiVersions = createApiVersionsHandler(() => table?.ranges() ?? []);
  table = new ApiTable([
    apiVersions,
    metadataApi,
    produceApi,
    initProducerIdApi,
    describeProducersApi,
    fetchApi,
    listOffsetsApi,
    offsetForLeaderEpochApi,
    createTopicsApi,
    deleteTopicsApi,
    deleteRecordsApi,
    createPartitionsApi,
    describeConfigsApi,
    alterConfigsApi,
    incrementalAlterConfigsApi,
    describeClusterApi,
    describeTopicPartitionsApi,
    ...groupApis,
    ...aclApis,
    saslHandshakeApi,
    saslAuthenticateApi,
    describeUserScramCredentialsApi,
    alterUserScramCredentialsApi,
    ...extra,
  ]);
  return table;
}
