import type { Logger } from 'pino';
import type { BrokerServices } from '../broker/broker-services.ts';
import type { KafscaleConfig } from '../config/index.ts';
import { ConsoleApi } from '../console/console-api.ts';
import type { KafscaleMetrics } from '../telemetry/metrics.ts';
import { readOpsToken } from './ops-token.ts';

export interface ConsoleProbes {
  readonly metadataStore: () => Promise<string | null>;
  readonly objectStore: () => Promise<string | null>;
}

/**
 * KAFSCALE_CONSOLE: the web console and its API (src/console), mounted on the ops listener. With a SASL
 * listener it logs users in with their SCRAM passwords; else with the ops token when there is one; else
 * it is unauthenticated (the config allows that on loopback only, unless told otherwise). Started; the
 * caller closes it.
 */
export function openConsole(config: KafscaleConfig, services: BrokerServices, metrics: KafscaleMetrics, log: Logger, probes: ConsoleProbes): ConsoleApi {
  const sasl = config.listeners.some((l) => l.securityProtocol.startsWith('SASL'));
  const token = config.ops.tokenFile === null ? undefined : readOpsToken(config.ops.tokenFile);
  const api = new ConsoleApi({
    services,
    metrics,
    log: log.child({ component: 'console' }),
    maxBytes: config.console.maxBytes,
    auth: {
      mode: sasl ? 'sasl' : token !== undefined ? 'token' : 'none',
      ...(token === undefined ? {} : { token }),
      secureCookies: config.ops.tls,
      failureDelayMs: config.sasl.authFailureDelayMs,
      lookup: (user, mechanism) => services.security.credentials.lookup(user, mechanism),
    },
    metadataStore: { kind: config.metadataStore.kind, probe: probes.metadataStore },
    objectStore: { kind: config.objectStore.kind === 'filesystem' ? 'fs' : 's3', probe: probes.objectStore },
  });
  api.start();
  return api;
}
