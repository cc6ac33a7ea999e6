import { ErrorCode } from '../../protocol/error-codes.ts';
import type { AclOperationCode } from '../../services/security/index.ts';
import type { BrokerServices, RequestContext } from '../broker-services.ts';
import { allowed, clusterAllowed, Resource } from './authorize.ts';

/** Kafka's ConfigResource.Type codes. */
export const ResourceType = {
  UNKNOWN: 0,
  TOPIC: 2,
  BROKER: 4,
  BROKER_LOGGER: 8,
  /** KIP-848 group configs (consumer.session.timeout.ms, consumer.heartbeat.interval.ms). */
  GROUP: 32,
} as const;

export interface ResourceCheck {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

/**
 * A BROKER resource names a broker id ('' is the cluster-wide default). Broker configs are static per
 * process, so a broker answers only for itself and for the cluster default, as Kafka's brokers do.
 */
export function checkBrokerResource(resourceName: string, services: BrokerServices): ResourceCheck {
  if (resourceName === '') return { errorCode: ErrorCode.NONE, errorMessage: null };
  if (!/^\d+$/.test(resourceName)) {
    return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Broker id must be an integer, got '${resourceName}'.` };
  }
  if (Number(resourceName) !== services.settings.brokerId) {
    return {
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: `Unexpected broker id, expected ${services.settings.brokerId} or empty string, but received ${resourceName}`,
    };
  }
  return { errorCode: ErrorCode.NONE, errorMessage: null };
}

export function unsupportedResource(resourceType: number): ResourceCheck {
  return {
    errorCode: ErrorCode.INVALID_REQUEST,
    errorMessage: `Resource type ${resourceType} is not supported by kafscale (TOPIC, BROKER and GROUP are).`,
  };
}

/**
 * Kafka's config authorization: a TOPIC needs `operation` (DESCRIBE_CONFIGS / ALTER_CONFIGS) on the
 * topic, a GROUP on the group, a BROKER or BROKER_LOGGER the same on the cluster. Null when allowed.
 */
export function configAccessDenied(resourceType: number, resourceName: string, operation: AclOperationCode, context: RequestContext): ResourceCheck | null {
  if (resourceType === ResourceType.TOPIC) {
    return allowed(context, operation, Resource.TOPIC, resourceName) ? null : { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: `Not authorized for the configs of topic '${resourceName}'.` };
  }
  if (resourceType === ResourceType.GROUP) {
    return allowed(context, operation, Resource.GROUP, resourceName) ? null : { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: `Not authorized for the configs of group '${resourceName}'.` };
  }
  if (resourceType === ResourceType.BROKER || resourceType === ResourceType.BROKER_LOGGER) {
    return clusterAllowed(context, operation) ? null : { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Not authorized for broker configs (needs the operation on the cluster).' };
  }
  return null;
}
