import type { Logger } from 'pino';
import type { Lease, MetadataStore } from '../../storage/meta/metadata-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { allocateBrokerId, claimBrokerId, type BrokerAddress } from './broker-id-allocator.ts';
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
  /** The id was allocated from the store: re-registering must re-claim it, never overwrite another broker's. */
  readonly allocated: boolean;

  private constructor(store: MetadataStore, self: BrokerInfo, log: Logger, allocated: boolean) {
    this.#store = store;
    this.self = self;
    this.#log = log;
    this.allocated = allocated;
  }

  /**
   * Registers this broker under `lease`. A registration of the same id from the same address is this
   * broker's previous incarnation and is replaced; one from another address means two live brokers were
   * given the same id, which fails fast.
   */
  static async register(store: MetadataStore, self: BrokerInfo, lease: Lease, log: Logger): Promise<BrokerRegistry> {
    const registry = new BrokerRegistry(store, self, log, false);
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
    await registry.#openMirror();
    log.info({ brokerId: self.brokerId, host: self.host, port: self.port }, 'broker registered');
    return registry;
  }

  /**
   * Registers this broker under the lowest broker id nobody holds (no KAFSCALE_BROKER_ID in cluster
   * mode): the registration key is created under `lease` only if absent, so the id is this broker's
   * until the lease ends (broker-id-allocator.ts).
   */
  static async allocate(store: MetadataStore, address: BrokerAddress, lease: Lease, log: Logger): Promise<BrokerRegistry> {
    const brokerId = await allocateBrokerId(store, address, lease, log);
    const registry = new BrokerRegistry(store, { brokerId, ...address }, log, true);
    try {
      await registry.#openMirror();
    } catch (error) {
      await store.delete(MetaKeys.broker(brokerId)).catch(() => undefined);
      throw error;
    }
    log.info({ brokerId, host: address.host, port: address.port }, 'broker registered');
    return registry;
  }

  async #openMirror(): Promise<void> {
    this.#mirror = await WatchedPrefix.open(this.#store, MetaKeys.brokersPrefix, this.#log, () => {
      for (const listener of this.#listeners) listener();
    });
  }

  /**
   * (Re-)writes this broker's registration under `lease`: at start, and with the new lease after a
   * session was lost and recovered (docs/design/cluster.md, "Session recovery"). An allocated id is
   * re-claimed (created only if absent): if another broker took it while our session was lost, this
   * throws KSC_BROKER_ID_TAKEN and the broker must stop — a restart allocates a fresh id.
   */
  async renew(lease: Lease): Promise<void> {
    if (!this.allocated) {
      await this.#store.put(MetaKeys.broker(this.self.brokerId), Buffer.from(JSON.stringify(this.self)), { lease: lease.id });
      return;
    }
    const { brokerId, ...address } = this.self;
    if (await claimBrokerId(this.#store, brokerId, address, lease)) return;
    const holder = await this.#store.get(MetaKeys.broker(brokerId));
    if (holder !== null && holder.lease === lease.id) return;
    throw new KafscaleError(
      'KSC_BROKER_ID_TAKEN',
      `broker id ${brokerId} (allocated) was taken by another broker while this broker's session was lost; restart this broker to allocate a new id`,
    );
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
