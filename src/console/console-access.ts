/**
 * The authorization checks of console calls: the broker's own Authorizer, asked as the caller's
 * principal for the resource and operation Kafka's API would check for the same action (docs/acls.md).
 * A denial is logged like the Kafka handlers log theirs.
 */
import type { Logger } from 'pino';
import type { BrokerServices } from '../broker/broker-services.ts';
import { AclOperation, CLUSTER_RESOURCE_NAME, operationName, ResourceType, resourceTypeName, type AclOperationCode, type ResourceTypeCode } from '../services/security/index.ts';
import { ConsoleError } from './console-error.ts';
import type { ConsoleCaller } from './console-sessions.ts';

export { AclOperation as Op, ResourceType as Resource };

const DENIED_NAMES: Readonly<Partial<Record<ResourceTypeCode, string>>> = {
  [ResourceType.TOPIC]: 'TOPIC_AUTHORIZATION_FAILED',
  [ResourceType.GROUP]: 'GROUP_AUTHORIZATION_FAILED',
  [ResourceType.CLUSTER]: 'CLUSTER_AUTHORIZATION_FAILED',
};

export class ConsoleAccess {
  readonly #services: BrokerServices;
  readonly #caller: ConsoleCaller;
  readonly #log: Logger;

  constructor(services: BrokerServices, caller: ConsoleCaller, log: Logger) {
    this.#services = services;
    this.#caller = caller;
    this.#log = log;
  }

  get caller(): ConsoleCaller {
    return this.#caller;
  }

  /** Silent check, for filtering lists (Kafka hides what a principal may not DESCRIBE). */
  can(operation: AclOperationCode, resourceType: ResourceTypeCode, name: string): boolean {
    return this.#services.authorizer.authorize(this.#caller, operation, resourceType, name);
  }

  canOnCluster(operation: AclOperationCode): boolean {
    return this.can(operation, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME);
  }

  /** 403 with Kafka's error name unless allowed; the denial is logged. */
  require(operation: AclOperationCode, resourceType: ResourceTypeCode, name: string): void {
    if (this.can(operation, resourceType, name)) return;
    this.#log.info(
      { principal: this.#caller.principal, host: this.#caller.remoteAddress, operation: operationName(operation), resourceType: resourceTypeName(resourceType), resource: name, via: 'console' },
      'authorization denied',
    );
    throw new ConsoleError(403, `${this.#caller.principal} is not authorized to ${operationName(operation)} ${resourceTypeName(resourceType).toLowerCase()} '${name}'`, DENIED_NAMES[resourceType] ?? 'CLUSTER_AUTHORIZATION_FAILED');
  }
}
