import {
  AclOperation,
  AclPermission,
  operationsBitField,
  PatternType,
  SUPPORTED_OPERATIONS,
  WILDCARD,
  WILDCARD_PRINCIPAL,
  type AclBinding,
  type AclOperationCode,
  type ResourceTypeCode,
} from './acl.ts';

/**
 * Who asks, from where: the authenticated principal (`User:alice`) and the client's IP address (a
 * request context is one, so handlers pass theirs without building an object per check).
 */
export interface Requester {
  readonly principal: string;
  readonly remoteAddress?: string;
}

/** The broker's authorization decisions; handlers ask it once per resource of a request. */
export interface Authorizer {
  /** False when no authorizer is configured: everything is allowed and the ACL APIs are disabled. */
  readonly enabled: boolean;
  authorize(requester: Requester, operation: AclOperationCode, resourceType: ResourceTypeCode, resourceName: string): boolean;
  /** Kafka's authorizeByResourceType: may the requester do `operation` on at least one resource of the type? */
  authorizeByResourceType(requester: Requester, operation: AclOperationCode, resourceType: ResourceTypeCode): boolean;
  /** The `authorized_operations` bit field of Metadata / DescribeCluster / DescribeGroups. */
  authorizedOperations(requester: Requester, resourceType: ResourceTypeCode, resourceName: string): number;
}

/** No authorizer configured (the default): every request is allowed, as in Kafka without `authorizer.class.name`. */
export const ALLOW_ALL: Authorizer = {
  enabled: false,
  authorize: () => true,
  authorizeByResourceType: () => true,
  authorizedOperations: (_requester, resourceType) => operationsBitField(SUPPORTED_OPERATIONS[resourceType] ?? []),
};

export interface AclAuthorizerOptions {
  /** Principals allowed everything regardless of ACLs (`super.users`). */
  readonly superUsers: readonly string[];
  /** Kafka's `allow.everyone.if.no.acl.found`: a resource no ACL matches is open to everyone. */
  readonly allowEveryoneIfNoAclFound: boolean;
}

/** The ACLs of one resource type, indexed for the authorize path. */
class TypeIndex {
  readonly literal = new Map<string, AclBinding[]>();
  readonly prefixed = new Map<string, AclBinding[]>();
  /** Distinct lengths of the prefixed names, so a lookup tries only lengths that exist. */
  prefixLengths: number[] = [];
  /** Every binding of the type (authorizeByResourceType). */
  readonly all: AclBinding[] = [];
}

/** Kafka's ALLOW implications: DESCRIBE is implied by READ/WRITE/DELETE/ALTER, DESCRIBE_CONFIGS by ALTER_CONFIGS. */
const IMPLIES_DESCRIBE = new Set<number>([AclOperation.DESCRIBE, AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER]);
const IMPLIES_DESCRIBE_CONFIGS = new Set<number>([AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS]);

const NO_MATCH = 0;
const ALLOWED = 1;
const DENIED = 2;

/**
 * Kafka's StandardAuthorizer semantics over an in-memory set of ACL bindings:
 * - super users are allowed everything;
 * - the ACLs that apply to a resource are its LITERAL ones, the LITERAL `*` ones and the PREFIXED ones
 *   whose name starts the resource name; of those, the ones of the principal or `User:*`, for the
 *   client's host or `*`, for the operation or ALL (an ALLOW for READ/WRITE/DELETE/ALTER also allows
 *   DESCRIBE, an ALLOW for ALTER_CONFIGS also DESCRIBE_CONFIGS; a DENY never implies anything);
 * - any matching DENY wins; else any matching ALLOW allows; else, when no ACL at all applies to the
 *   resource (whoever it names), `allow.everyone.if.no.acl.found` decides; else denied.
 *
 * Bindings are replaced as a whole (`replace`) when the store's watch reports a change; each request
 * reads the current index, so a change applies to connections already open.
 */
export class AclAuthorizer implements Authorizer {
  readonly enabled = true;
  readonly #superUsers: ReadonlySet<string>;
  readonly #allowIfNoAcl: boolean;
  #byType = new Map<number, TypeIndex>();

  constructor(options: AclAuthorizerOptions, bindings: Iterable<AclBinding> = []) {
    this.#superUsers = new Set(options.superUsers);
    this.#allowIfNoAcl = options.allowEveryoneIfNoAclFound;
    this.replace(bindings);
  }

  /** Swaps in a new set of bindings (built aside, then published in one assignment). */
  replace(bindings: Iterable<AclBinding>): void {
    const byType = new Map<number, TypeIndex>();
    for (const binding of bindings) {
      let index = byType.get(binding.resourceType);
      if (index === undefined) {
        index = new TypeIndex();
        byType.set(binding.resourceType, index);
      }
      index.all.push(binding);
      const map = binding.patternType === PatternType.PREFIXED ? index.prefixed : index.literal;
      const list = map.get(binding.resourceName);
      if (list === undefined) map.set(binding.resourceName, [binding]);
      else list.push(binding);
    }
    for (const index of byType.values()) index.prefixLengths = [...new Set([...index.prefixed.keys()].map((name) => name.length))];
    this.#byType = byType;
  }

  authorize(requester: Requester, operation: AclOperationCode, resourceType: ResourceTypeCode, resourceName: string): boolean {
    if (this.#superUsers.has(requester.principal)) return true;
    const index = this.#byType.get(resourceType);
    if (index === undefined) return this.#allowIfNoAcl;
    const host = normalizeHost(requester.remoteAddress ?? '');
    const decision = new Decision();
    decision.check(index.literal.get(resourceName), requester.principal, host, operation);
    if (decision.denied) return false;
    if (resourceName !== WILDCARD) decision.check(index.literal.get(WILDCARD), requester.principal, host, operation);
    for (const length of index.prefixLengths) {
      if (decision.denied) return false;
      if (length <= resourceName.length) decision.check(index.prefixed.get(resourceName.slice(0, length)), requester.principal, host, operation);
    }
    if (decision.denied) return false;
    if (decision.allowed) return true;
    return !decision.hasResourceAcls && this.#allowIfNoAcl;
  }

  /**
   * Kafka's default `Authorizer.authorizeByResourceType`: allowed when a literal name would be (super
   * users, no ACLs with allow-everyone), or when the requester has an ALLOW for the operation (or ALL)
   * on some pattern that no DENY of theirs covers; a DENY on LITERAL `*` denies at once.
   */
  authorizeByResourceType(requester: Requester, operation: AclOperationCode, resourceType: ResourceTypeCode): boolean {
    if (this.authorize(requester, operation, resourceType, 'hardcode')) return true;
    const host = normalizeHost(requester.remoteAddress ?? '');
    const denyLiteral = new Set<string>();
    const denyPrefixed = new Set<string>();
    const allowLiteral: string[] = [];
    const allowPrefixed: string[] = [];
    for (const acl of this.#byType.get(resourceType)?.all ?? []) {
      if (acl.host !== WILDCARD && acl.host !== host) continue;
      if (acl.principal !== requester.principal && acl.principal !== WILDCARD_PRINCIPAL) continue;
      if (acl.operation !== operation && acl.operation !== AclOperation.ALL) continue;
      const prefixed = acl.patternType === PatternType.PREFIXED;
      if (acl.permission === AclPermission.DENY) {
        if (!prefixed && acl.resourceName === WILDCARD) return false;
        (prefixed ? denyPrefixed : denyLiteral).add(acl.resourceName);
      } else if (acl.permission === AclPermission.ALLOW) {
        if (!prefixed && acl.resourceName === WILDCARD) return true;
        (prefixed ? allowPrefixed : allowLiteral).push(acl.resourceName);
      }
    }
    const dominated = (name: string): boolean => {
      for (let length = 1; length <= name.length; length++) if (denyPrefixed.has(name.slice(0, length))) return true;
      return false;
    };
    for (const name of allowLiteral) if (!denyLiteral.has(name) && !dominated(name)) return true;
    for (const name of allowPrefixed) if (!dominated(name)) return true;
    return false;
  }

  authorizedOperations(requester: Requester, resourceType: ResourceTypeCode, resourceName: string): number {
    let bits = 0;
    for (const op of SUPPORTED_OPERATIONS[resourceType] ?? []) if (this.authorize(requester, op, resourceType, resourceName)) bits |= 1 << op;
    return bits;
  }
}

/** Accumulates the outcome of the ACLs that apply to one resource. */
class Decision {
  hasResourceAcls = false;
  allowed = false;
  denied = false;

  check(acls: readonly AclBinding[] | undefined, principal: string, host: string, operation: number): void {
    if (acls === undefined) return;
    this.hasResourceAcls = true;
    for (const acl of acls) {
      const result = resultOf(acl, principal, host, operation);
      if (result === DENIED) {
        this.denied = true;
        return;
      }
      if (result === ALLOWED) this.allowed = true;
    }
  }
}

function resultOf(acl: AclBinding, principal: string, host: string, operation: number): number {
  if (acl.principal !== principal && acl.principal !== WILDCARD_PRINCIPAL) return NO_MATCH;
  if (acl.host !== WILDCARD && acl.host !== host) return NO_MATCH;
  if (acl.operation !== AclOperation.ALL) {
    if (acl.permission === AclPermission.ALLOW) {
      if (operation === AclOperation.DESCRIBE) {
        if (!IMPLIES_DESCRIBE.has(acl.operation)) return NO_MATCH;
      } else if (operation === AclOperation.DESCRIBE_CONFIGS) {
        if (!IMPLIES_DESCRIBE_CONFIGS.has(acl.operation)) return NO_MATCH;
      } else if (acl.operation !== operation) {
        return NO_MATCH;
      }
    } else if (acl.operation !== operation) {
      return NO_MATCH;
    }
  }
  return acl.permission === AclPermission.ALLOW ? ALLOWED : acl.permission === AclPermission.DENY ? DENIED : NO_MATCH;
}

/** A dual-stack listener reports IPv4 clients as `::ffff:a.b.c.d`; ACL hosts name the IPv4 address. */
export function normalizeHost(host: string): string {
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
}
