/**
 * Kafka's ACL model (KIP-11, KIP-290 prefixed patterns), with Kafka's wire codes so that bindings travel
 * unchanged between CreateAcls / DescribeAcls / DeleteAcls and the store.
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
/** A LITERAL resource name or a host that matches everything. */
export const WILDCARD = '*';
/** The principal that matches every principal. */
export const WILDCARD_PRINCIPAL = 'User:*';
export const ANONYMOUS_PRINCIPAL = 'User:ANONYMOUS';

export interface AclBinding {
  readonly resourceType: ResourceTypeCode;
  readonly resourceName: string;
  readonly patternType: PatternTypeCode;
  readonly principal: string;
  readonly host: string;
  readonly operation: AclOperationCode;
  readonly permission: AclPermissionCode;
}

/** A DescribeAcls / DeleteAcls filter; null strings match anything, ANY codes match any value. */
export interface AclBindingFilter {
  readonly resourceType: number;
  readonly resourceName: string | null;
  readonly patternType: number;
  readonly principal: string | null;
  readonly host: string | null;
  readonly operation: number;
  readonly permission: number;
}

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

const RESOURCE_TYPES = new Set<number>([ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER, ResourceType.TRANSACTIONAL_ID, ResourceType.DELEGATION_TOKEN, ResourceType.USER]);
const CONCRETE_OPERATIONS = new Set<number>(Object.values(AclOperation).filter((op) => op >= AclOperation.ALL));

/**
 * Why a binding cannot be created (CreateAcls answers INVALID_REQUEST with it), or null. Kafka's broker
 * rules: concrete codes only (no ANY/MATCH/UNKNOWN), a `Type:name` principal, a non-empty name, and the
 * cluster resource is named `kafka-cluster`. Like Kafka's broker it does not reject an operation that
 * never applies to the resource type (the CLI does).
 */
export function invalidBinding(binding: AclBinding): string | null {
  if (!RESOURCE_TYPES.has(binding.resourceType)) return `resource type ${binding.resourceType} is not a concrete resource type`;
  if (binding.patternType !== PatternType.LITERAL && binding.patternType !== PatternType.PREFIXED) return `pattern type ${binding.patternType} is not LITERAL (3) or PREFIXED (4)`;
  if (binding.resourceName === '') return 'the resource name is empty';
  if (binding.resourceType === ResourceType.CLUSTER && binding.resourceName !== CLUSTER_RESOURCE_NAME) return `the cluster resource is named '${CLUSTER_RESOURCE_NAME}'`;
  if (!/^[^:]+:.+$/.test(binding.principal)) return `principal '${binding.principal}' is not of the form Type:name (e.g. User:alice)`;
  if (binding.host === '') return "the host is empty; use '*' for every host";
  if (!CONCRETE_OPERATIONS.has(binding.operation)) return `operation ${binding.operation} is not a concrete operation`;
  if (binding.permission !== AclPermission.ALLOW && binding.permission !== AclPermission.DENY) return `permission type ${binding.permission} is not ALLOW (3) or DENY (2)`;
  return null;
}

/** Why a filter cannot be used (UNKNOWN codes), or null. */
export function invalidFilter(filter: AclBindingFilter): string | null {
  if (filter.resourceType === ResourceType.UNKNOWN) return 'the resource type filter is UNKNOWN';
  if (filter.patternType === PatternType.UNKNOWN) return 'the pattern type filter is UNKNOWN';
  if (filter.operation === AclOperation.UNKNOWN) return 'the operation filter is UNKNOWN';
  if (filter.permission === AclPermission.UNKNOWN) return 'the permission type filter is UNKNOWN';
  return null;
}

/**
 * Kafka's AclBindingFilter.matches. Pattern type MATCH selects every binding that would apply to the
 * named resource: LITERAL with the same name or '*', and PREFIXED whose name is a prefix of it.
 */
export function filterMatches(filter: AclBindingFilter, binding: AclBinding): boolean {
  if (filter.resourceType !== ResourceType.ANY && filter.resourceType !== binding.resourceType) return false;
  if (!patternFilterMatches(filter, binding)) return false;
  if (filter.principal !== null && filter.principal !== binding.principal) return false;
  if (filter.host !== null && filter.host !== binding.host) return false;
  if (filter.operation !== AclOperation.ANY && filter.operation !== binding.operation) return false;
  if (filter.permission !== AclPermission.ANY && filter.permission !== binding.permission) return false;
  return true;
}

function patternFilterMatches(filter: AclBindingFilter, binding: AclBinding): boolean {
  const name = filter.resourceName;
  if (filter.patternType === PatternType.MATCH) {
    if (name === null) return true;
    if (binding.patternType === PatternType.LITERAL) return binding.resourceName === name || binding.resourceName === WILDCARD;
    return binding.patternType === PatternType.PREFIXED && name.startsWith(binding.resourceName);
  }
  if (filter.patternType !== PatternType.ANY && filter.patternType !== binding.patternType) return false;
  return name === null || name === binding.resourceName;
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

/** Looks a name up case-insensitively, with '-' and '_' alike (`describe-configs` = `DESCRIBE_CONFIGS`); undefined when unknown. */
export function codeOf<T extends Readonly<Record<string, number>>>(table: T, name: string): T[keyof T] | undefined {
  const key = name.trim().toUpperCase().replaceAll('-', '_');
  return Object.hasOwn(table, key) ? (table[key] as T[keyof T]) : undefined;
}
