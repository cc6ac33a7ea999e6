/**
 * `kafscale acls add|list|remove` in the vocabulary of Kafka's kafka-acls.sh (--allow-principal,
 * --deny-principal, --operation, --topic, --group, --cluster, --transactional-id,
 * --resource-pattern-type, --allow-host, --deny-host), over CreateAcls, DescribeAcls and DeleteAcls.
 */
import type { Command } from 'commander';
import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import {
  AclOperation,
  AclPermission,
  CLUSTER_RESOURCE_NAME,
  operationName,
  PatternType,
  patternTypeName,
  permissionName,
  ResourceType,
  resourceTypeName,
  SUPPORTED_OPERATIONS,
} from '../../protocol/acl-codes.ts';
import { kafkaError, usageError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { collect } from './topics-command.ts';

type Run = (action: (ctx: CommandContext, ...args: unknown[]) => Promise<void>) => (...args: unknown[]) => Promise<void>;

interface AclOptions {
  allowPrincipal?: string[];
  denyPrincipal?: string[];
  principal?: string[];
  allowHost?: string[];
  denyHost?: string[];
  operation?: string[];
  topic?: string[];
  group?: string[];
  transactionalId?: string[];
  cluster?: boolean;
  resourcePatternType?: string;
  producer?: boolean;
  consumer?: boolean;
  idempotent?: boolean;
}

interface Resource {
  readonly type: number;
  readonly name: string;
}

interface Row {
  resourceType: string;
  name: string;
  patternType: string;
  principal: string;
  host: string;
  operation: string;
  permission: string;
}

function resourceOptions(command: Command): Command {
  return command
    .option('--topic <name>', 'a topic (repeatable; "*" = every topic)', collect)
    .option('--group <id>', 'a consumer group (repeatable; "*" = every group)', collect)
    .option('--transactional-id <id>', 'a transactional id (repeatable)', collect)
    .option('--cluster', 'the cluster resource (kafka-cluster)');
}

export function registerAclsCommand(program: Command, run: Run): void {
  const acls = program.command('acls').description('add, list and remove Kafka ACLs (needs KAFSCALE_AUTHORIZER=acl on the brokers)');

  resourceOptions(acls.command('add').description('add ALLOW and DENY bindings: every principal × host × operation × resource'))
    .option('--allow-principal <principal>', 'principal to allow, e.g. User:alice (repeatable; User:* = everyone)', collect)
    .option('--deny-principal <principal>', 'principal to deny (repeatable)', collect)
    .option('--allow-host <host>', 'IP the allow bindings apply to (repeatable; default *)', collect)
    .option('--deny-host <host>', 'IP the deny bindings apply to (repeatable; default *)', collect)
    .option('--operation <op>', 'Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All (repeatable)', collect)
    .option('--resource-pattern-type <type>', 'literal or prefixed', 'literal')
    .option('--producer', "kafka-acls.sh's producer set: WRITE, DESCRIBE, CREATE on the topics (WRITE, DESCRIBE on transactional ids)")
    .option('--idempotent', 'with --producer: IDEMPOTENT_WRITE on the cluster too')
    .option('--consumer', "kafka-acls.sh's consumer set: READ, DESCRIBE on the topics and READ on the groups (needs --group)")
    .action(run(async (ctx, ...args: unknown[]) => {
      const opts = args[0] as AclOptions;
      const convenience = opts.producer === true || opts.consumer === true;
      if (opts.consumer === true && (opts.group ?? []).length === 0) throw usageError('--consumer needs --group', 'name the consumer group: --group ID');
      const resources = parseResources({ ...opts, cluster: opts.cluster === true || (opts.producer === true && opts.idempotent === true) }, true);
      const pattern = parsePattern(opts.resourcePatternType ?? 'literal', ['literal', 'prefixed']);
      const operations = parseOperations(opts.operation, false);
      const allow = principals(opts.allowPrincipal);
      const deny = principals(opts.denyPrincipal);
      if (allow.length + deny.length === 0) throw usageError('name at least one principal', 'use --allow-principal User:NAME or --deny-principal User:NAME');
      if (operations.length === 0 && !convenience) throw usageError('name at least one operation', 'use --operation Read (repeatable), or --operation All, or --producer / --consumer');
      for (const resource of resources) checkOperations(resource, operations);
      const creations: { resourceType: number; resourceName: string; resourcePatternType: number; principal: string; host: string; operation: number; permissionType: number }[] = [];
      for (const resource of resources) {
        const resourceOps = [...new Set([...operations, ...convenienceOperations(resource, opts)])];
        // The cluster resource is only ever literal.
        const resourcePattern = resource.type === ResourceType.CLUSTER ? PatternType.LITERAL : pattern;
        for (const [list, hosts, permission] of [[allow, opts.allowHost ?? ['*'], AclPermission.ALLOW], [deny, opts.denyHost ?? ['*'], AclPermission.DENY]] as const) {
          for (const principal of list) for (const host of hosts) for (const operation of resourceOps) {
            creations.push({ resourceType: resource.type, resourceName: resource.name, resourcePatternType: resourcePattern, principal, host, operation, permissionType: permission });
          }
        }
      }
      const connection = await ctx.client.any();
      const { body } = await connection.request(ApiKey.CreateAcls, { creations });
      body.results.forEach((result, i) => {
        if (result.errorCode !== ErrorCode.NONE) throw kafkaError(describeCreation(creations[i]), result.errorCode, result.errorMessage);
      });
      const rows = creations.map((c) => row(c.resourceType, c.resourceName, c.resourcePatternType, c.principal, c.host, c.operation, c.permissionType));
      if (ctx.out.json) return ctx.out.data(rows);
      ctx.out.line(`Added ${rows.length} ACL binding(s):`);
      printRows(ctx, rows);
    }));

  resourceOptions(acls.command('list').description('list ACL bindings (all, or those of the named resources)'))
    .option('--principal <principal>', 'only bindings of this principal (repeatable)', collect)
    .option('--resource-pattern-type <type>', 'any, match (what applies to the named resource), literal or prefixed', 'any')
    .action(run(async (ctx, ...args: unknown[]) => {
      const opts = args[0] as AclOptions;
      const resources = parseResources(opts, false);
      const pattern = parsePattern(opts.resourcePatternType ?? 'any', ['any', 'match', 'literal', 'prefixed']);
      const connection = await ctx.client.any();
      const targets: (Resource | null)[] = resources.length === 0 ? [null] : resources;
      const rows: Row[] = [];
      for (const target of targets) {
        for (const principal of opts.principal === undefined ? [null] : principals(opts.principal)) {
          const { body } = await connection.request(ApiKey.DescribeAcls, {
            resourceTypeFilter: target?.type ?? ResourceType.ANY,
            resourceNameFilter: target?.name ?? null,
            patternTypeFilter: pattern,
            principalFilter: principal,
            hostFilter: null,
            operation: AclOperation.ANY,
            permissionType: AclPermission.ANY,
          });
          if (body.errorCode !== ErrorCode.NONE) throw kafkaError('ACLs', body.errorCode, body.errorMessage);
          for (const r of body.resources) for (const a of r.acls) rows.push(row(r.resourceType, r.resourceName, r.patternType, a.principal, a.host, a.operation, a.permissionType));
        }
      }
      rows.sort((a, b) => a.resourceType.localeCompare(b.resourceType) || a.name.localeCompare(b.name) || a.principal.localeCompare(b.principal) || a.operation.localeCompare(b.operation));
      if (ctx.out.json) return ctx.out.data(rows);
      printRows(ctx, rows);
    }));

  resourceOptions(acls.command('remove').description('remove the bindings of the named resources (narrowed by principal, host, operation)'))
    .option('--allow-principal <principal>', 'remove ALLOW bindings of this principal (repeatable)', collect)
    .option('--deny-principal <principal>', 'remove DENY bindings of this principal (repeatable)', collect)
    .option('--allow-host <host>', 'only ALLOW bindings for this host (repeatable)', collect)
    .option('--deny-host <host>', 'only DENY bindings for this host (repeatable)', collect)
    .option('--operation <op>', 'only bindings of this operation (repeatable; default: every operation)', collect)
    .option('--resource-pattern-type <type>', 'literal, prefixed, any or match', 'literal')
    .action(run(async (ctx, ...args: unknown[]) => {
      const opts = args[0] as AclOptions;
      const resources = parseResources(opts, true);
      const pattern = parsePattern(opts.resourcePatternType ?? 'literal', ['literal', 'prefixed', 'any', 'match']);
      const operations = parseOperations(opts.operation, true);
      const allow = principals(opts.allowPrincipal);
      const deny = principals(opts.denyPrincipal);
      // No principal: every binding of the resource, allow and deny (kafka-acls --remove without principals).
      const selections: [string | null, readonly (string | null)[], number][] = allow.length + deny.length === 0
        ? [[null, [null], AclPermission.ANY]]
        : [
            ...allow.map((p): [string, readonly (string | null)[], number] => [p, opts.allowHost ?? [null], AclPermission.ALLOW]),
            ...deny.map((p): [string, readonly (string | null)[], number] => [p, opts.denyHost ?? [null], AclPermission.DENY]),
          ];
      const filters = [];
      for (const resource of resources) {
        for (const [principal, hosts, permission] of selections) for (const host of hosts) for (const operation of operations) {
          filters.push({ resourceTypeFilter: resource.type, resourceNameFilter: resource.name, patternTypeFilter: pattern, principalFilter: principal, hostFilter: host, operation, permissionType: permission });
        }
      }
      const connection = await ctx.client.any();
      const { body } = await connection.request(ApiKey.DeleteAcls, { filters });
      const rows: Row[] = [];
      for (const result of body.filterResults) {
        if (result.errorCode !== ErrorCode.NONE) throw kafkaError('ACLs', result.errorCode, result.errorMessage);
        for (const m of result.matchingAcls) rows.push(row(m.resourceType, m.resourceName, m.patternType, m.principal, m.host, m.operation, m.permissionType));
      }
      if (ctx.out.json) return ctx.out.data(rows);
      ctx.out.line(`Removed ${rows.length} ACL binding(s)${rows.length === 0 ? '' : ':'}`);
      if (rows.length > 0) printRows(ctx, rows);
    }));
}

function parseResources(opts: AclOptions, required: boolean): Resource[] {
  const resources: Resource[] = [
    ...(opts.topic ?? []).map((name) => ({ type: ResourceType.TOPIC, name })),
    ...(opts.group ?? []).map((name) => ({ type: ResourceType.GROUP, name })),
    ...(opts.transactionalId ?? []).map((name) => ({ type: ResourceType.TRANSACTIONAL_ID, name })),
    ...(opts.cluster === true ? [{ type: ResourceType.CLUSTER, name: CLUSTER_RESOURCE_NAME }] : []),
  ];
  for (const r of resources) if (r.name === '') throw usageError(`an empty ${resourceTypeName(r.type).toLowerCase()} name`, 'name the resource, or "*" for all of its type');
  if (required && resources.length === 0) throw usageError('name at least one resource', 'use --topic NAME, --group ID, --transactional-id ID or --cluster');
  return resources;
}

/** Kafka's names in any case, with or without '-'/'_': Read, DescribeConfigs, describe-configs, IDEMPOTENT_WRITE. */
function parseOperations(names: readonly string[] | undefined, anyWhenEmpty: boolean): number[] {
  if (names === undefined || names.length === 0) return anyWhenEmpty ? [AclOperation.ANY] : [];
  const byKey = new Map(Object.entries(AclOperation).filter(([, code]) => code >= AclOperation.ALL).map(([name, code]) => [name.replaceAll('_', ''), code]));
  return [...new Set(names.map((name) => {
    const code = byKey.get(name.trim().toUpperCase().replaceAll(/[-_]/g, ''));
    if (code === undefined) throw usageError(`unknown operation '${name}'`, 'use Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All');
    return code;
  }))];
}

/** kafka-acls.sh's --producer / --consumer sets for one resource. */
function convenienceOperations(resource: Resource, opts: AclOptions): number[] {
  const ops: number[] = [];
  if (opts.producer === true) {
    if (resource.type === ResourceType.TOPIC) ops.push(AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE);
    if (resource.type === ResourceType.TRANSACTIONAL_ID) ops.push(AclOperation.WRITE, AclOperation.DESCRIBE);
    if (resource.type === ResourceType.CLUSTER && opts.idempotent === true) ops.push(AclOperation.IDEMPOTENT_WRITE);
  }
  if (opts.consumer === true) {
    if (resource.type === ResourceType.TOPIC) ops.push(AclOperation.READ, AclOperation.DESCRIBE);
    if (resource.type === ResourceType.GROUP) ops.push(AclOperation.READ);
  }
  return ops;
}

/** kafka-acls.sh refuses operations that never apply to the resource type (Read on the cluster, …). */
function checkOperations(resource: Resource, operations: readonly number[]): void {
  const supported = SUPPORTED_OPERATIONS[resource.type] ?? [];
  for (const op of operations) {
    if (op !== AclOperation.ALL && !supported.includes(op as never)) {
      throw usageError(`operation ${operationName(op)} does not apply to ${resourceTypeName(resource.type).toLowerCase()} resources`, `valid: ${supported.map(operationName).join(', ')}, ALL`);
    }
  }
}

function parsePattern(value: string, allowed: readonly string[]): number {
  const name = value.trim().toLowerCase();
  if (!allowed.includes(name)) throw usageError(`bad --resource-pattern-type '${value}'`, `use one of: ${allowed.join(', ')}`);
  return PatternType[name.toUpperCase() as keyof typeof PatternType];
}

function principals(values: readonly string[] | undefined): string[] {
  return (values ?? []).map((p) => {
    if (!/^[^:]+:.+$/.test(p)) throw usageError(`bad principal '${p}'`, 'principals are Type:name, e.g. User:alice (User:* = everyone)');
    return p;
  });
}

function row(resourceType: number, name: string, patternType: number, principal: string, host: string, operation: number, permission: number): Row {
  return {
    resourceType: resourceTypeName(resourceType),
    name,
    patternType: patternTypeName(patternType),
    principal,
    host,
    operation: operationName(operation),
    permission: permissionName(permission),
  };
}

function describeCreation(c: { resourceType: number; resourceName: string; principal: string; operation: number } | undefined): string {
  return c === undefined ? 'ACL' : `ACL ${c.principal} ${operationName(c.operation)} on ${resourceTypeName(c.resourceType).toLowerCase()} '${c.resourceName}'`;
}

function printRows(ctx: CommandContext, rows: readonly Row[]): void {
  ctx.out.table([
    { header: 'RESOURCE', value: (r: Row) => r.resourceType },
    { header: 'NAME', value: (r: Row) => r.name },
    { header: 'PATTERN', value: (r: Row) => r.patternType },
    { header: 'PRINCIPAL', value: (r: Row) => r.principal },
    { header: 'HOST', value: (r: Row) => r.host },
    { header: 'OPERATION', value: (r: Row) => r.operation },
    { header: 'PERMISSION', value: (r: Row) => r.permission },
  ], rows);
}
