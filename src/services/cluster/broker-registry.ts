import type { Logger } from 'pino';
import type { Lease, MetadataStore } from '../../storage/meta/metadata-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { MetaKeys } from './meta-keys.ts';
import { WatchedPrefix } from './watched-prefix.ts';

export interface BrokerInfo {
  readonly brokerId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
  readonly startedMs: number;
  /**
   * Advertised address of every listener (KAFSCALE_LISTENERS); `host`/`port` above are the first
   * listener's. Absent in registrations of brokers without the setting.
   */
  readonly listeners?: readonly ListenerEndpoint[];
}

export interface ListenerEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/**
 * Kafka's rule: a client is told the addresses of the listener it connected to. A broker without that
 * listener is reported at its default address (mixed configurations during a rolling change).
 */
export function endpointOf(broker: BrokerInfo, listenerName: string | undefined): { host: string; port: number } {
  const listener = listenerName === undefined ? undefined : broker.listeners?.find((l) => l.name === listenerName);
  return listener === undefined ? { host: broker.host, port: broker.port } : { host: listener.host, port: listener.port };
}

/**
 * Live brokers: each broker registers itself under its session lease, so a registration disappears when
 * the broker dies (lease expiry) or stops (revocation). Every broker mirrors the registrations through a
 * watch; Metadata responses list exactly these.
 */
export class BrokerRegistry {
  readonly self: BrokerInfo;
  readonly #store: MetadataStore;
  readonly #log: Logger;
  #mirror!: WatchedPrefix;
  readonly #listeners = new Set<() => void>();

  private constructor(store: MetadataStore, self: BrokerInfo, log: Logger) {
    this.#store = store;
    this.self = self;
    this.#log = log;
  }

  /**
   * Registers this broker under `lease`. A registration of the same id from the same address is this
   * broker's previous incarnation and is replaced; one from another address means two live brokers were
   * given the same id, which fails fast.
   */
  static async register(store: MetadataStore, self: BrokerInfo, lease: Lease, log: Logger): Promise<BrokerRegistry> {
    const registry = new BrokerRegistry(store, self, log);
    const key = MetaKeys.broker(self.brokerId);
    const existing = await store.get(key);
    if (existing !== null && existing.lease !== lease.id) {
      const other = decodeBroker(existing.value);
      if (other !== null && (other.host !== self.host || other.port !== self.port)) {
        throw new KafscaleError(
          'KSC_CONFIG_INVALID',
          `broker id ${self.brokerId} is already registered by a live broker at ${other.host}:${other.port}; give every broker a unique KAFSCALE_BROKER_ID`,
        );
      }
    }
    await registry.renew(lease);
    registry.#mirror = await WatchedPrefix.open(store, MetaKeys.brokersPrefix, log, () => {
      for (const listener of registry.#listeners) listener();
    });
    log.info({ brokerId: self.brokerId, host: self.host, port: self.port }, 'broker registered');
    return registry;
  }

  /**
   * (Re-)writes this broker's registration under `lease`: at start, and with the new lease after a
   * session was lost and recovered (docs/design/cluster.md, "Session recovery").
   */
  async renew(lease: Lease): Promise<void> {
    await this.#store.put(MetaKeys.broker(this.self.brokerId), Buffer.from(JSON.stringify(this.self)), { lease: lease.id });
  }

  /** Live brokers sorted by id. Always includes this broker while it is registered. */
  live(): BrokerInfo[] {
    const brokers: BrokerInfo[] = [];
    for (const kv of this.#mirror.values()) {
      const info = decodeBroker(kv.value);
      if (info !== null) brokers.push(info);
    }
    if (!brokers.some((b) => b.brokerId === this.self.brokerId)) brokers.push(this.self);
    return brokers.sort((a, b) => a.brokerId - b.brokerId);
  }

  get(brokerId: number): BrokerInfo | undefined {
    return this.live().find((b) => b.brokerId === brokerId);
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.#mirror.close();
  }

  async deregister(): Promise<void> {
    await this.#store.delete(MetaKeys.broker(this.self.brokerId));
  }
}

function decodeBroker(value: Buffer): BrokerInfo | null {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as BrokerInfo;
    return Number.isInteger(parsed.brokerId) && typeof parsed.host === 'string' ? parsed : null;
  } catch {
    return null;
  }
}
