import type { Logger } from 'pino';
import type { RequestDispatcher } from '../broker/dispatch.ts';
import type { KafscaleConfig } from '../config/index.ts';
import { CertificatePrincipalMapper } from '../server/certificate-principal.ts';
import { KafkaServer } from '../server/kafka-server.ts';
import type { TlsCertificates } from '../server/tls-certificates.ts';
import type { ListenerEndpoint } from '../services/cluster/index.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';
import type { KafscaleMetrics } from '../telemetry/metrics.ts';

export interface KafkaListenerParts {
  readonly config: KafscaleConfig;
  readonly dispatcher: RequestDispatcher;
  readonly certificates: TlsCertificates | null;
  readonly log: Logger;
  readonly metrics: KafscaleMetrics;
}

export interface KafkaListenerEvents {
  /** A server was created (before it binds, so that the app can close it whatever happens next). */
  created(server: KafkaServer): void;
  /** A listener is bound: its server, bound port and advertised address (a configured port 0 becomes the bound one). */
  started(name: string, server: KafkaServer, port: number, advertised: ListenerEndpoint): void;
}

/** Binds every listener (KAFSCALE_LISTENERS) in order, one KafkaServer each. */
export async function startKafkaListeners(parts: KafkaListenerParts, events: KafkaListenerEvents): Promise<void> {
  const { config, dispatcher, certificates, log, metrics } = parts;
  const tls = config.tls;
  const principalMapper = tls === null ? null : new CertificatePrincipalMapper(tls.principalMappingRules);
  // queued.max.request.bytes and max.connections(.per.ip) are broker-wide: one budget for every listener.
  const shared = KafkaServer.sharedLimits({
    queuedMaxRequestBytes: config.socket.queuedMaxRequestBytes,
    maxConnections: config.socket.maxConnections,
    maxConnectionsPerIp: config.socket.maxConnectionsPerIp,
  });
  for (const listener of config.listeners) {
    const secure = listener.securityProtocol === 'SSL' || listener.securityProtocol === 'SASL_SSL';
    const sasl = listener.securityProtocol === 'SASL_PLAINTEXT' || listener.securityProtocol === 'SASL_SSL';
    if (secure && (certificates === null || tls === null)) throw new KafscaleError('KSC_CONFIG_INVALID', `listener ${listener.name} uses ${listener.securityProtocol}; set KAFSCALE_TLS_CERT_FILE and KAFSCALE_TLS_KEY_FILE`);
    const server = new KafkaServer({
      dispatcher,
      host: listener.listen.host,
      port: listener.listen.port,
      maxFrameBytes: config.socket.requestMaxBytes,
      maxInflightPerConnection: config.socket.maxInflightRequestsPerConnection,
      idleTimeoutMs: config.socket.connectionsMaxIdleMs,
      logger: log.child({ component: 'server', listener: listener.name }),
      metrics,
      shared,
      listenerName: listener.name,
      ...(secure && certificates !== null && tls !== null ? { tls: { certificates, clientAuth: tls.clientAuth, principalMapper } } : {}),
      ...(sasl ? { saslMechanisms: config.sasl.mechanisms } : {}),
    });
    events.created(server);
    const port = await server.start();
    events.started(listener.name, server, port, { name: listener.name, host: listener.advertised.host, port: listener.advertised.port === 0 ? port : listener.advertised.port });
  }
}
