/**
 * Kafka's ACL model (KIP-11, KIP-290 prefixed patterns), with Kafka's wire codes so that bindings travel
 * unchanged between CreateAcls / DescribeAcls / DeleteAcls and the store.
 */
import {
  AclOperation,
  AclPermission,
  CLUSTER_RESOURCE_NAME,
  PatternType,
  ResourceType,
  type AclOperationCode,
  type AclPermissionCode,
  type PatternTypeCode,
  type ResourceTypeCode,
} from '../../protocol/acl-codes.ts';

export * from '../../protocol/acl-codes.ts';

/** A LITERAL resource name or a host that matches everything. */
export const WILDCARD = '*';
/** The principal that matches every principal. */
export const WILDCARD_PRINCIPAL = 'User:*';

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

const MAX_NAME_CHARS = 1_000;
const MAX_HOST_CHARS = 255;
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
  // Not Kafka rules: bounds that keep one CreateAcls inside the metadata store's transaction limits.
  if (binding.resourceName.length > MAX_NAME_CHARS) return `the resource name is longer than ${MAX_NAME_CHARS} characters`;
  if (binding.principal.length > MAX_NAME_CHARS) return `the principal is longer than ${MAX_NAME_CHARS} characters`;
  if (binding.host.length > MAX_HOST_CHARS) return `the host is longer than ${MAX_HOST_CHARS} characters; use an IP address or '*'`;
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
