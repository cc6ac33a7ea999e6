/**
 * Long-lived connections from the proxy to the brokers, by broker address (host:port as the brokers
 * advertise it, or a bootstrap address). Per broker:
 *
 * - one shared, pipelined connection for requests a broker answers promptly (Produce, group and admin
 *   APIs): every client's requests to that broker ride on it;
 * - exclusive connections for requests that may be held by the broker (Fetch long polls, JoinGroup and
 *   SyncGroup waiting for a rebalance). A broker answers in request order per connection, so a long poll
 *   on the shared connection would hold every produce acknowledgement behind it. An exclusive connection
 *   carries one such request at a time and goes back to an idle list afterwards (kept up to a bound).
 *
 * The first connection to a broker also asks its ApiVersions; the proxy advertises only what every
 * broker it has seen can serve.
 */
import { ApiKey } from '../protocol/api-keys.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { KafscaleError } from '../errors/kafscale-error.ts';
import { UpstreamConnection, UpstreamFailure, type UpstreamConnectionOptions } from './upstream-connection.ts';

export interface ApiRange {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
}

export interface UpstreamPoolOptions extends UpstreamConnectionOptions {
  /** Idle exclusive connections kept per broker; more are closed when released. */
  readonly maxIdleExclusive: number;
  readonly clientId: string;
  readonly requestTimeoutMs: number;
}

/** After a failed connect to a broker, further connects to it fail at once for this long. */
const RECONNECT_BACKOFF_MS = 500;
/** ApiVersions v3 is flexible (KIP-511); every broker since Kafka 2.4 answers it. */
const API_VERSIONS_VERSION = 3;

export class BrokerConnections {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly #options: UpstreamPoolOptions;
  #shared: UpstreamConnection | null = null;
  #opening: Promise<UpstreamConnection> | null = null;
  readonly #idle: UpstreamConnection[] = [];
  readonly #busy = new Set<UpstreamConnection>();
  #apiRanges: readonly ApiRange[] | null = null;
  #closed = false;
  /** When the last connect attempt failed (0: never); connects fail fast for a moment after it. */
  #connectFailedAtMs = 0;

  constructor(host: string, port: number, options: UpstreamPoolOptions) {
    this.host = host;
    this.port = port;
    this.address = `${host}:${port}`;
    this.#options = options;
  }

  /** What the broker advertised in ApiVersions; null until the first connection negotiated. */
  get apiRanges(): readonly ApiRange[] | null {
    return this.#apiRanges;
  }

  get openConnections(): number {
    return (this.#shared === null ? 0 : 1) + this.#idle.length + this.#busy.size;
  }

  /** The shared pipelined connection, opened (and ApiVersions asked) on first use or after it died. */
  shared(): Promise<UpstreamConnection> {
    const current = this.#shared;
    if (current !== null && !current.closed && !current.expiring) return Promise.resolve(current);
    if (current !== null && current.expiring && this.#opening === null) {
      // The broker's SASL session is nearly over: requests move to a freshly logged-in connection.
      this.#shared = null;
      current.retire();
    }
    this.#opening ??= this.#openShared().finally(() => {
      this.#opening = null;
    });
    return this.#opening;
  }

  /** An exclusive connection (idle or new); hand it back with release() once its answer arrived. */
  async acquire(): Promise<UpstreamConnection> {
    for (let connection = this.#idle.pop(); connection !== undefined; connection = this.#idle.pop()) {
      if (connection.expiring) connection.close();
      else if (!connection.closed) {
        this.#busy.add(connection);
        return connection;
      }
    }
    const connection = await this.#open();
    if (this.#apiRanges === null) await this.#negotiate(connection);
    this.#busy.add(connection);
    return connection;
  }

  release(connection: UpstreamConnection): void {
    this.#busy.delete(connection);
    if (connection.closed) return;
    if (this.#closed || this.#idle.length >= this.#options.maxIdleExclusive || connection.inFlight > 0 || connection.expiring) {
      connection.close();
      return;
    }
    this.#idle.push(connection);
  }

  close(): void {
    this.#closed = true;
    this.#shared?.close();
    this.#shared = null;
    for (const connection of this.#idle.splice(0)) connection.close();
    for (const connection of this.#busy) connection.close();
    this.#busy.clear();
  }

  async #openShared(): Promise<UpstreamConnection> {
    const connection = await this.#open();
    if (this.#apiRanges === null) await this.#negotiate(connection);
    if (this.#closed) {
      connection.close();
      throw new KafscaleError('KSC_PROXY_UPSTREAM_FAILED', `the connections to ${this.address} are closed`);
    }
    this.#shared = connection;
    connection.onClose = () => {
      if (this.#shared === connection) this.#shared = null;
    };
    return connection;
  }

  /**
   * A broker that just refused (or timed out) a connect is not dialled again for RECONNECT_BACKOFF_MS:
   * in Kubernetes a dead pod's IP often swallows SYNs, and every request would otherwise wait the full
   * connect timeout before the proxy can answer NOT_LEADER_OR_FOLLOWER and the client moves on.
   */
  async #open(): Promise<UpstreamConnection> {
    const sinceFailureMs = Date.now() - this.#connectFailedAtMs;
    if (sinceFailureMs < RECONNECT_BACKOFF_MS) {
      throw new UpstreamFailure(this.address, `a connect failed ${sinceFailureMs} ms ago; not dialling again yet`, false);
    }
    try {
      return await UpstreamConnection.open(this.host, this.port, this.#options);
    } catch (error) {
      this.#connectFailedAtMs = Date.now();
      throw error;
    }
  }

  async #negotiate(connection: UpstreamConnection): Promise<void> {
    const reply = await connection.request(
      ApiKey.ApiVersions,
      API_VERSIONS_VERSION,
      this.#options.clientId,
      { clientSoftwareName: 'kafscale-proxy', clientSoftwareVersion: '0.1.0' },
      this.#options.requestTimeoutMs,
    );
    // A broker without v3 answers UNSUPPORTED_VERSION with its table in the v0 shape; kafscale brokers have v3.
    if (reply.errorCode !== ErrorCode.NONE) {
      connection.close();
      throw new KafscaleError('KSC_PROXY_UPSTREAM_FAILED', `broker ${this.address} refused ApiVersions v${API_VERSIONS_VERSION} (error ${reply.errorCode})`);
    }
    this.#apiRanges = reply.apiKeys.map((api) => ({ apiKey: api.apiKey, minVersion: api.minVersion, maxVersion: api.maxVersion }));
  }
}

/** Every broker's connections, by address. Brokers that leave the metadata are closed by `retain`. */
export class UpstreamPool {
  readonly #options: UpstreamPoolOptions;
  readonly #brokers = new Map<string, BrokerConnections>();

  constructor(options: UpstreamPoolOptions) {
    this.#options = options;
  }

  get options(): UpstreamPoolOptions {
    return this.#options;
  }

  broker(host: string, port: number): BrokerConnections {
    const address = `${host}:${port}`;
    let broker = this.#brokers.get(address);
    if (broker === undefined) {
      broker = new BrokerConnections(host, port, this.#options);
      this.#brokers.set(address, broker);
    }
    return broker;
  }

  /** Closes the connections of brokers not in `addresses` (a broker that left the cluster). */
  retain(addresses: ReadonlySet<string>): void {
    for (const [address, broker] of this.#brokers) {
      if (!addresses.has(address)) {
        broker.close();
        this.#brokers.delete(address);
      }
    }
  }

  /** ApiVersions answers of the brokers seen so far. */
  apiRanges(): (readonly ApiRange[])[] {
    const ranges: (readonly ApiRange[])[] = [];
    for (const broker of this.#brokers.values()) if (broker.apiRanges !== null) ranges.push(broker.apiRanges);
    return ranges;
  }

  get openConnections(): number {
    let total = 0;
    for (const broker of this.#brokers.values()) total += broker.openConnections;
    return total;
  }

  close(): void {
    for (const broker of this.#brokers.values()) broker.close();
    this.#brokers.clear();
  }
}
