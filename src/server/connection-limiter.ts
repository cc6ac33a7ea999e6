/**
 * Kafka's `max.connections` and `max.connections.per.ip`: a connection over either limit is closed as
 * soon as it is accepted (Kafka closes it too), so a client opening connections in a loop cannot exhaust
 * the broker's memory or file descriptors.
 */
export type ConnectionRefusal = 'max_connections' | 'max_connections_per_ip';

export class ConnectionLimiter {
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly #perIp = new Map<string, number>();
  #total = 0;

  constructor(maxConnections: number, maxConnectionsPerIp: number) {
    for (const [name, value] of [['maxConnections', maxConnections], ['maxConnectionsPerIp', maxConnectionsPerIp]] as const) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`ConnectionLimiter: ${name} must be an integer >= 1, got ${value}`);
    }
    this.maxConnections = maxConnections;
    this.maxConnectionsPerIp = maxConnectionsPerIp;
  }

  get total(): number {
    return this.#total;
  }

  /** Counts a new connection from `ip`, or says which limit refuses it (then nothing is counted). */
  open(ip: string): ConnectionRefusal | null {
    if (this.#total >= this.maxConnections) return 'max_connections';
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (fromIp >= this.maxConnectionsPerIp) return 'max_connections_per_ip';
    this.#perIp.set(ip, fromIp + 1);
    this.#total++;
    return null;
  }

  /** A counted connection from `ip` has closed. */
  close(ip: string): void {
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (fromIp <= 1) this.#perIp.delete(ip);
    else this.#perIp.set(ip, fromIp - 1);
    this.#total--;
  }
}
