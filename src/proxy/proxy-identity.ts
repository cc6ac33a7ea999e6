/**
 * Who the proxy says it is: N virtual brokers (node ids 0..N-1), all the proxy, on one host and N
 * consecutive ports (docs/design/proxy.md, "Virtual brokers"). Clients see N brokers and run one broker
 * connection (librdkafka: one broker thread) per virtual broker, so their Fetch and Produce work is
 * spread over N connections as it is over the real brokers when they connect directly.
 *
 * Every answer is a pure function of (topic, partition) or of the coordinator key and N — never of the
 * real owner — so ownership moves between real brokers change nothing clients see, and every proxy
 * behind one Service (same N, host and ports) gives the same answers. Every virtual broker serves every
 * request: routing is per partition, so a client with stale metadata that asks the "wrong" one is still
 * answered correctly.
 */

export interface VirtualBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** The node id of the first virtual broker, also named as the controller. */
export const PROXY_NODE_ID = 0;

/** 32-bit FNV-1a of a string's UTF-8 bytes: deterministic across processes and versions (unlike a seeded hash). */
export function stableHash(value: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(value, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export class ProxyIdentity {
  readonly host: string;
  readonly count: number;
  readonly #advertisedBasePort: number;
  #boundPorts: readonly number[] = [];

  /**
   * `advertisedBasePort` 0: advertise the ports the listeners bound (listen port 0 in tests), known
   * once `listening` is called; otherwise virtual broker i is advertised at `advertisedBasePort + i`.
   */
  constructor(host: string, count: number, advertisedBasePort: number) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`virtual broker count must be a positive integer, got ${count}`);
    this.host = host;
    this.count = count;
    this.#advertisedBasePort = advertisedBasePort;
  }

  /** The ports the listeners bound, in virtual-broker order. */
  listening(ports: readonly number[]): void {
    this.#boundPorts = [...ports];
  }

  portOf(nodeId: number): number {
    if (this.#advertisedBasePort !== 0) return this.#advertisedBasePort + nodeId;
    return this.#boundPorts[nodeId] ?? 0;
  }

  broker(nodeId: number): VirtualBroker {
    return { nodeId, host: this.host, port: this.portOf(nodeId) };
  }

  brokers(): VirtualBroker[] {
    const brokers: VirtualBroker[] = [];
    for (let nodeId = 0; nodeId < this.count; nodeId++) brokers.push(this.broker(nodeId));
    return brokers;
  }

  /**
   * The virtual broker that leads a partition: consecutive partitions of a topic go round-robin over the
   * virtual brokers (an even spread for one topic), starting at a place given by the topic's name (so
   * many one-partition topics spread too).
   */
  leaderOf(topic: string, partition: number): number {
    if (this.count === 1) return PROXY_NODE_ID;
    return (stableHash(topic) + partition) % this.count;
  }

  /** The virtual broker named as the coordinator of a group (or transactional id). */
  coordinatorOf(key: string): number {
    if (this.count === 1) return PROXY_NODE_ID;
    return stableHash(key) % this.count;
  }
}
