import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { endpointOf } from '../../services/cluster/index.ts';
import { defineApi } from '../api-handler.ts';
import { clusterAuthorizedOperations } from './authorize.ts';
import { AUTHORIZED_OPERATIONS_OMITTED } from '../../protocol/sentinel-values.ts';
import { controllerId } from './metadata.ts';

/** Endpoint type 1 = brokers; 2 = controllers, which kafscale does not have (KIP-919). */
const ENDPOINT_BROKERS = 1;

export const describeClusterApi = defineApi({
  apiKey: ApiKey.DescribeCluster,
  name: 'DescribeCluster',
  minVersion: 0,
  maxVersion: 1,
  async handle(request, context) {
    const { services } = context;
    if (context.apiVersion >= 1 && request.endpointType !== ENDPOINT_BROKERS) {
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
        errorMessage: `Endpoint type ${request.endpointType} is not supported; kafscale has brokers only (endpoint type 1).`,
        endpointType: request.endpointType,
        clusterId: services.clusterId,
        controllerId: -1,
        brokers: [],
        clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
      };
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      endpointType: ENDPOINT_BROKERS,
      clusterId: services.clusterId,
      controllerId: controllerId(services),
      brokers: services.brokers.live().map((b) => ({ brokerId: b.brokerId, ...endpointOf(b, context.listenerName), rack: b.rack })),
      // Kafka checks nothing else here: the bit field when asked, 0 without DESCRIBE on the cluster.
      clusterAuthorizedOperations: request.includeClusterAuthorizedOperations ? clusterAuthorizedOperations(context) : AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
  errorResponse(request, errorCode, errorMessage, context) {
    return {
      throttleTimeMs: 0,
      errorCode,
      errorMessage,
      endpointType: request.endpointType,
      clusterId: context.services.clusterId,
      controllerId: -1,
      brokers: [],
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
});
