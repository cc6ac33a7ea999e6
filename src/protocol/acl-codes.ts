/**
 * Kafka's ACL enumerations as they travel on the wire (CreateAcls, DescribeAcls, DeleteAcls and the
 * authorized-operations bit fields), with their names. The broker's ACL model (services/security) and
 * the CLI share them.
 */

/** org.apache.kafka.common.resource.ResourceType codes. */
export const ResourceType = {
  UNKNOWN: 0,
  ANY: 1,
  TOPIC: 2,
  GROUP: 3,
  CLUSTER: 4,
  TRANSACTIONAL_ID: 5,
  DELEGATION_TOKEN: 6,
  USER: 7,
} as const;
export type ResourceTypeCode = (typeof ResourceType)[keyof typeof ResourceType];

/** org.apache.kafka.common.resource.PatternType codes. */
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export type PatternTypeCode = (typeof PatternType)[keyof typeof PatternType];

/** org.apache.kafka.common.acl.AclOperation codes; the authorized-operations bit field uses them as bit positions. */
export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const;
export type AclOperationCode = (typeof AclOperation)[keyof typeof AclOperation];

/** org.apache.kafka.common.acl.AclPermissionType codes. */
export const AclPermission = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;
export type AclPermissionCode = (typeof AclPermission)[keyof typeof AclPermission];

/** The only name a CLUSTER resource has (Kafka's `kafka-cluster`). */
export const CLUSTER_RESOURCE_NAME = 'kafka-cluster';
/** Operations that exist for each resource type (Kafka's AclEntry.supportedOperations), bit-field order. */
export const SUPPORTED_OPERATIONS: Readonly<Record<number, readonly AclOperationCode[]>> = {
  [ResourceType.TOPIC]: [
    AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE, AclOperation.DELETE,
    AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS,
  ],
  [ResourceType.GROUP]: [AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE],
  [ResourceType.CLUSTER]: [
    AclOperation.CREATE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS,
    AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER, AclOperation.DESCRIBE,
  ],
  [ResourceType.TRANSACTIONAL_ID]: [AclOperation.DESCRIBE, AclOperation.WRITE],
  [ResourceType.DELEGATION_TOKEN]: [AclOperation.DESCRIBE],
  [ResourceType.USER]: [AclOperation.CREATE_TOKENS, AclOperation.DESCRIBE_TOKENS],
};

/** Kafka's `Utils.to32BitField`: one bit per operation code. */
export function operationsBitField(operations: Iterable<number>): number {
  let bits = 0;
  for (const op of operations) bits |= 1 << op;
  return bits;
}

const RESOURCE_TYPE_NAMES = Object.fromEntries(Object.entries(ResourceType).map(([name, code]) => [code, name])) as Record<number, string>;
const OPERATION_NAMES = Object.fromEntries(Object.entries(AclOperation).map(([name, code]) => [code, name])) as Record<number, string>;
const PATTERN_NAMES = Object.fromEntries(Object.entries(PatternType).map(([name, code]) => [code, name])) as Record<number, string>;
const PERMISSION_NAMES = Object.fromEntries(Object.entries(AclPermission).map(([name, code]) => [code, name])) as Record<number, string>;

export function resourceTypeName(code: number): string {
  return RESOURCE_TYPE_NAMES[code] ?? `UNKNOWN(${code})`;
}
export function operationName(code: number): string {
  return OPERATION_NAMES[code] ?? `UNKNOWN(${code})`;
}
export function patternTypeName(code: number): string {
  return PATTERN_NAMES[code] ?? `UNKNOWN(${code})`;
}
export function permissionName(code: number): string {
  return PERMISSION_NAMES[code] ?? `UNKNOWN(${code})`;
}
