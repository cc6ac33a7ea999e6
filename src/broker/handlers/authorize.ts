/**
 * The one-line authorization checks of the handlers, against the broker's authorizer (which allows
 * everything unless `KAFSCALE_AUTHORIZER=acl`). Each handler states what Kafka's KafkaApis checks for
 * its API; docs/acls.md lists them.
 */
import {
  AclOperation,
  CLUSTER_RESOURCE_NAME,
  operationName,
  ResourceType,
  resourceTypeName,
  type AclOperationCode,
  type ResourceTypeCode,
} from '../../services/security/index.ts';
import type { RequestContext } from '../broker-services.ts';

export { AclOperation as Op, ResourceType as Resource };

/** Whether the request's principal may do `operation` on the resource; a denial is logged (Kafka's authorizer log). */
export function allowed(context: RequestContext, operation: AclOperationCode, resourceType: ResourceTypeCode, name: string): boolean {
  const { authorizer } = context.services;
  if (authorizer.authorize(context, operation, resourceType, name)) return true;
  context.log.info(
    { principal: context.principal, host: context.remoteAddress, operation: operationName(operation), resourceType: resourceTypeName(resourceType), resource: name, clientId: context.clientId },
    'authorization denied',
  );
  return false;
}

/** Like `allowed`, without logging: for filtering lists (Kafka's logIfDenied = false). */
export function visible(context: RequestContext, operation: AclOperationCode, resourceType: ResourceTypeCode, name: string): boolean {
  return context.services.authorizer.authorize(context, operation, resourceType, name);
}

export function clusterAllowed(context: RequestContext, operation: AclOperationCode): boolean {
  return allowed(context, operation, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME);
}

/** `visible` on the cluster resource (a cluster right that replaces per-resource checks when present). */
export function clusterVisible(context: RequestContext, operation: AclOperationCode): boolean {
  return visible(context, operation, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME);
}

/** The `authorized_operations` bit field of a resource for the request's principal. */
export function authorizedOperations(context: RequestContext, resourceType: ResourceTypeCode, name: string): number {
  return context.services.authorizer.authorizedOperations(context, resourceType, name);
}

/**
 * Kafka's cluster `authorized_operations` in Metadata and DescribeCluster: the bit field when the
 * principal may DESCRIBE the cluster, else 0.
 */
export function clusterAuthorizedOperations(context: RequestContext): number {
  return visible(context, AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME)
    ? authorizedOperations(context, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME)
    : 0;
}
