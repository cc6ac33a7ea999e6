import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { DeleteAclsMatchingAcl, DescribeAclsResource } from '../../protocol/messages/index.ts';
import { invalidBinding, invalidFilter, type AclBinding, type AclBindingFilter, type AclOperationCode, type AclPermissionCode, type PatternTypeCode, type ResourceTypeCode, type AclStore } from '../../services/security/index.ts';
import { defineApi } from '../api-handler.ts';
import type { RequestContext } from '../broker-services.ts';
import { clusterAllowed, Op } from './authorize.ts';

const NO_AUTHORIZER = 'No authorizer is configured on the broker; set KAFSCALE_AUTHORIZER=acl to use ACLs';

/** The ACL store, or why the request is refused: no ACL authorizer, or `operation` not allowed on the cluster. */
function aclStoreFor(context: RequestContext, operation: AclOperationCode, denied: string): AclStore | { errorCode: number; errorMessage: string } {
  const acls = context.services.acls;
  if (acls === null) return { errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER };
  if (!clusterAllowed(context, operation)) return { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: denied };
  return acls;
}

/** A DescribeAcls request or DeleteAcls filter (the same field names) as a binding filter. */
function filterOf(f: {
  readonly resourceTypeFilter: number;
  readonly resourceNameFilter: string | null;
  readonly patternTypeFilter: number;
  readonly principalFilter: string | null;
  readonly hostFilter: string | null;
  readonly operation: number;
  readonly permissionType: number;
}): AclBindingFilter {
  return {
    resourceType: f.resourceTypeFilter,
    resourceName: f.resourceNameFilter,
    patternType: f.patternTypeFilter,
    principal: f.principalFilter,
    host: f.hostFilter,
    operation: f.operation,
    permission: f.permissionType,
  };
}

/**
 * DescribeAcls 0–3 (Kafka 3.9's range): needs DESCRIBE on the cluster. The bindings matching the filter,
 * grouped by resource pattern. v0 has no pattern type filter: it means LITERAL (the schema default).
 */
export const describeAclsApi = defineApi({
  apiKey: ApiKey.DescribeAcls,
  name: 'DescribeAcls',
  minVersion: 0,
  maxVersion: 3,
  async handle(request, context) {
    const acls = aclStoreFor(context, Op.DESCRIBE, 'DescribeAcls needs DESCRIBE on the cluster');
    if ('errorCode' in acls) return describeError(acls.errorCode, acls.errorMessage);
    const filter = filterOf(request);
    const invalid = invalidFilter(filter);
    if (invalid !== null) return describeError(ErrorCode.INVALID_REQUEST, invalid);
    const resources = new Map<string, DescribeAclsResource>();
    for (const b of acls.list(filter)) {
      const key = `${b.resourceType}\0${b.patternType}\0${b.resourceName}`;
      let resource = resources.get(key);
      if (resource === undefined) {
        resource = { resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType, acls: [] };
        resources.set(key, resource);
      }
      resource.acls.push({ principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: [...resources.values()] };
  },
  errorResponse(_request, errorCode, errorMessage) {
    return describeError(errorCode, errorMessage);
  },
});

function describeError(errorCode: number, errorMessage: string) {
  return { throttleTimeMs: 0, errorCode, errorMessage, resources: [] };
}

/**
 * CreateAcls 0–3: needs ALTER on the cluster. Each creation is validated on its own (INVALID_REQUEST
 * with the reason); the valid ones are stored together. An existing binding is not an error.
 */
export const createAclsApi = defineApi({
  apiKey: ApiKey.CreateAcls,
  name: 'CreateAcls',
  minVersion: 0,
  maxVersion: 3,
  async handle(request, context) {
    const acls = aclStoreFor(context, Op.ALTER, 'CreateAcls needs ALTER on the cluster');
    if ('errorCode' in acls) return createError(request.creations.length, acls.errorCode, acls.errorMessage);
    const bindings = request.creations.map((c) => binding(c.resourceType, c.resourceName, c.resourcePatternType, c.principal, c.host, c.operation, c.permissionType));
    const problems = bindings.map(invalidBinding);
    const valid = bindings.filter((_b, i) => problems[i] === null);
    await acls.create(valid);
    if (valid.length > 0) context.log.info({ principal: context.principal, acls: valid.length }, 'ACLs created');
    return {
      throttleTimeMs: 0,
      results: problems.map((problem) => (problem === null ? { errorCode: ErrorCode.NONE, errorMessage: null } : { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem })),
    };
  },
  errorResponse(request, errorCode, errorMessage) {
    return createError(request.creations.length, errorCode, errorMessage);
  },
});

function createError(count: number, errorCode: number, errorMessage: string) {
  return { throttleTimeMs: 0, results: Array.from({ length: count }, () => ({ errorCode, errorMessage })) };
}

/**
 * DeleteAcls 0–3: needs ALTER on the cluster. Every binding matching each filter is deleted and
 * reported under that filter (a binding matching two filters is reported twice, as Kafka does).
 */
export const deleteAclsApi = defineApi({
  apiKey: ApiKey.DeleteAcls,
  name: 'DeleteAcls',
  minVersion: 0,
  maxVersion: 3,
  async handle(request, context) {
    const acls = aclStoreFor(context, Op.ALTER, 'DeleteAcls needs ALTER on the cluster');
    if ('errorCode' in acls) return deleteError(request.filters.length, acls.errorCode, acls.errorMessage);
    const filters = request.filters.map(filterOf);
    const problems = filters.map(invalidFilter);
    const deleted = await deleteValid(acls, filters, problems);
    const count = deleted.reduce((sum, list) => sum + list.length, 0);
    if (count > 0) context.log.info({ principal: context.principal, acls: count }, 'ACLs deleted');
    return {
      throttleTimeMs: 0,
      filterResults: problems.map((problem, i) =>
        problem === null
          ? { errorCode: ErrorCode.NONE, errorMessage: null, matchingAcls: (deleted[i] ?? []).map(matchingAcl) }
          : { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem, matchingAcls: [] },
      ),
    };
  },
  errorResponse(request, errorCode, errorMessage) {
    return deleteError(request.filters.length, errorCode, errorMessage);
  },
});

async function deleteValid(acls: AclStore, filters: readonly AclBindingFilter[], problems: readonly (string | null)[]): Promise<AclBinding[][]> {
  const validIndexes = filters.map((_f, i) => i).filter((i) => problems[i] === null);
  const deleted = await acls.delete(validIndexes.map((i) => filters[i] as AclBindingFilter));
  const byFilter: AclBinding[][] = filters.map(() => []);
  validIndexes.forEach((filterIndex, i) => {
    byFilter[filterIndex] = deleted[i] ?? [];
  });
  return byFilter;
}

function deleteError(count: number, errorCode: number, errorMessage: string) {
  return { throttleTimeMs: 0, filterResults: Array.from({ length: count }, () => ({ errorCode, errorMessage, matchingAcls: [] })) };
}

function matchingAcl(b: AclBinding): DeleteAclsMatchingAcl {
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    resourceType: b.resourceType,
    resourceName: b.resourceName,
    patternType: b.patternType,
    principal: b.principal,
    host: b.host,
    operation: b.operation,
    permissionType: b.permission,
  };
}

function binding(resourceType: number, resourceName: string, patternType: number, principal: string, host: string, operation: number, permission: number): AclBinding {
  return {
    resourceType: resourceType as ResourceTypeCode,
    resourceName,
    patternType: patternType as PatternTypeCode,
    principal,
    host,
    operation: operation as AclOperationCode,
    permission: permission as AclPermissionCode,
  };
}

/** The ACL rows of the API table. */
export const aclApis = [describeAclsApi, createAclsApi, deleteAclsApi] as const;
