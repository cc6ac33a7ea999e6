import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { ConfigAlteration } from '../../services/cluster/index.ts';
import { defineApi } from '../api-handler.ts';
import type { BrokerServices, RequestContext } from '../broker-services.ts';
import { Op } from './authorize.ts';
import { checkBrokerResource, configAccessDenied, ResourceType, unsupportedResource, type ResourceCheck } from './config-resources.ts';

/** The four IncrementalAlterConfigs operations, by their wire codes. */
const OPERATIONS = ['set', 'delete', 'append', 'subtract'] as const;

interface ResourceAlteration {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly alterations: readonly ConfigAlteration[] | ResourceCheck;
}

/** AlterConfigs: the given configs replace all of the resource's overrides. */
export const alterConfigsApi = defineApi({
  apiKey: ApiKey.AlterConfigs,
  name: 'AlterConfigs',
  minVersion: 0,
  maxVersion: 2,
  async handle(request, context) {
    const resources = request.resources.map((r) => ({
      resourceType: r.resourceType,
      resourceName: r.resourceName,
      alterations: r.configs.map((c): ConfigAlteration => ({ op: 'set', name: c.name, value: c.value })),
    }));
    return { throttleTimeMs: 0, responses: await alterAll(resources.map((r) => authorizeAlteration(r, context)), false, request.validateOnly, context.services) };
  },
  errorResponse(request, errorCode, errorMessage) {
    return { throttleTimeMs: 0, responses: request.resources.map((r) => ({ errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName })) };
  },
});

/** IncrementalAlterConfigs (KIP-339): SET, DELETE, APPEND, SUBTRACT per config. */
export const incrementalAlterConfigsApi = defineApi({
  apiKey: ApiKey.IncrementalAlterConfigs,
  name: 'IncrementalAlterConfigs',
  minVersion: 0,
  maxVersion: 1,
  async handle(request, context) {
    const resources = request.resources.map((r): ResourceAlteration => {
      const alterations: ConfigAlteration[] = [];
      for (const c of r.configs) {
        const op = OPERATIONS[c.configOperation];
        if (op === undefined) {
          return {
            resourceType: r.resourceType,
            resourceName: r.resourceName,
            alterations: { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown config operation ${c.configOperation} for ${c.name}.` },
          };
        }
        alterations.push(op === 'delete' ? { op, name: c.name } : { op, name: c.name, value: c.value });
      }
      return { resourceType: r.resourceType, resourceName: r.resourceName, alterations };
    });
    return { throttleTimeMs: 0, responses: await alterAll(resources.map((r) => authorizeAlteration(r, context)), true, request.validateOnly, context.services) };
  },
  errorResponse(request, errorCode, errorMessage) {
    return { throttleTimeMs: 0, responses: request.resources.map((r) => ({ errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName })) };
  },
});

/** ALTER_CONFIGS on the topic or the cluster (Kafka); a denied resource keeps its error instead of its alterations. */
function authorizeAlteration(resource: ResourceAlteration, context: RequestContext): ResourceAlteration {
  const denied = configAccessDenied(resource.resourceType, resource.resourceName, Op.ALTER_CONFIGS, context);
  return denied === null ? resource : { ...resource, alterations: denied };
}

async function alterAll(resources: readonly ResourceAlteration[], incremental: boolean, validateOnly: boolean, services: BrokerServices) {
  const responses = [];
  for (const resource of resources) {
    const outcome = await alterOne(resource, incremental, validateOnly, services);
    responses.push({ ...outcome, resourceType: resource.resourceType, resourceName: resource.resourceName });
  }
  return responses;
}

async function alterOne(resource: ResourceAlteration, incremental: boolean, validateOnly: boolean, services: BrokerServices): Promise<ResourceCheck> {
  if (!Array.isArray(resource.alterations)) return resource.alterations as ResourceCheck;
  const alterations = resource.alterations as readonly ConfigAlteration[];
  if (resource.resourceType === ResourceType.TOPIC) {
    return services.topics.alterConfigs(resource.resourceName, alterations, { incremental, validateOnly });
  }
  if (resource.resourceType === ResourceType.BROKER) {
    const check = checkBrokerResource(resource.resourceName, services);
    if (check.errorCode !== ErrorCode.NONE) return check;
    if (alterations.length === 0) return check;
    // Broker settings come from the process configuration (env, flags, file) and are read-only here.
    return {
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: `Cannot update these configs dynamically: ${alterations.map((a) => a.name).join(', ')}. kafscale broker settings come from KAFSCALE_* environment variables, flags or the config file; topic configs can be altered per topic.`,
    };
  }
  if (resource.resourceType === ResourceType.GROUP) {
    return services.groups.alterGroupConfig(resource.resourceName, alterations, { incremental, validateOnly });
  }
  return unsupportedResource(resource.resourceType);
}
