import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import type { FindCoordinatorResponse } from '../../../protocol/messages/index.ts';
import { endpointOf } from '../../../services/cluster/index.ts';
import { defineApi } from '../../api-handler.ts';
import { allowed, Op, Resource } from '../authorize.ts';
import type { RequestContext } from '../../broker-services.ts';

type Coordinator = FindCoordinatorResponse['coordinators'][number];

/** FindCoordinator key types (KIP-98 transaction, KIP-932 share). */
const KeyType = { Group: 0, Transaction: 1, Share: 2 } as const;

/**
 * FindCoordinator 0–6: the coordinator of a group is the live broker with the highest rendezvous
 * score for the group id. v4+ batches keys (KIP-699). Transactions are a non-goal of kafscale, so a
 * transactional key gets a clear, non-retriable answer instead of a coordinator that cannot serve it.
 */
export const findCoordinatorApi = defineApi({
  apiKey: ApiKey.FindCoordinator,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 6,
  async handle(request, context) {
    if (context.apiVersion >= 4) {
      return { ...single(ErrorCode.NONE, null, -1, '', -1), coordinators: request.coordinatorKeys.map((key) => locate(key, request.keyType, context)) };
    }
    const found = locate(request.key, request.keyType, context);
    return { ...single(found.errorCode, found.errorMessage, found.nodeId, found.host, found.port), coordinators: [] };
  },
  errorResponse(request, errorCode, errorMessage, context) {
    const keys = context.apiVersion >= 4 ? request.coordinatorKeys : [];
    return {
      ...single(errorCode, errorMessage, -1, '', -1),
      coordinators: keys.map((key) => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage })),
    };
  },
});

function single(errorCode: number, errorMessage: string | null, nodeId: number, host: string, port: number): Omit<FindCoordinatorResponse, 'coordinators'> {
  return { throttleTimeMs: 0, errorCode, errorMessage, nodeId, host, port };
}

function locate(key: string, keyType: number, context: RequestContext): Coordinator {
  const failed = (errorCode: number, errorMessage: string): Coordinator => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage });
  if (keyType === KeyType.Transaction) {
    return failed(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, `kafscale does not support transactions, so there is no transaction coordinator for '${key}'; use idempotent producers without a transactional.id`);
  }
  if (keyType !== KeyType.Group) return failed(ErrorCode.INVALID_REQUEST, `FindCoordinator key type ${keyType} is not supported; only consumer groups (key type 0) are`);
  if (!allowed(context, Op.DESCRIBE, Resource.GROUP, key)) return failed(ErrorCode.GROUP_AUTHORIZATION_FAILED, `not authorized to DESCRIBE group '${key}'`);
  const { groups, brokers } = context.services;
  const broker = brokers.get(groups.coordinatorOf(key));
  if (broker === undefined) return failed(ErrorCode.COORDINATOR_NOT_AVAILABLE, `the coordinator of group '${key}' is not available; retry`);
  return { key, nodeId: broker.brokerId, ...endpointOf(broker, context.listenerName), errorCode: ErrorCode.NONE, errorMessage: null };
}
