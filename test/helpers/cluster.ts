/**
 * A kafscale cluster for tests: N broker processes on loopback sharing one real etcd (metadata,
 * ownership leases) and one s3rver (objects), with a short session TTL so that failover happens within
 * a test's time budget. Brokers can be killed, restarted, frozen (SIGSTOP) and thawed (SIGCONT).
 *
 *   const cluster = await startCluster({ brokers: 3, sessionTtlMs: 2_000 });
 *   after(() => cluster.stop());
 *
 * Broker i runs with KAFSCALE_BROKER_ID = i (with `allocateBrokerIds`, with no id: each broker allocates
 * one from etcd, and index ≠ id). addBroker() starts one more with the same settings. stop() thaws frozen brokers first (a stopped process
 * cannot handle SIGTERM) and stops everything in reverse start order, also after a failed test.
 */
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { probeApiVersions, startBroker, type BrokerProcess } from './broker-process.ts';
import { startEtcdServer, type EtcdServer } from './etcd-server.ts';
import { startS3Server, type S3TestServer } from './s3-server.ts';
import { WireClient } from './wire-client.ts';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const METADATA_VERSION = 12;
const CREATE_TOPICS_VERSION = 5;

export interface StartClusterOptions {
  /** Number of brokers; default 3. */
  readonly brokers?: number;
  /** KAFSCALE_BROKER_SESSION_TTL_MS; default 2000 (the config's minimum is 1000). */
  readonly sessionTtlMs?: number;
  /** Extra environment for every broker. */
  readonly env?: Readonly<Record<string, string>>;
  /** Default 'warn': three chatty brokers would cost the test CPU. */
  readonly logLevel?: string;
  /** Start brokers without KAFSCALE_BROKER_ID: each allocates its id from etcd. Default false. */
  readonly allocateBrokerIds?: boolean;
  /** Listeners besides PLAINTEXT on every broker (see StartBrokerOptions.extraListeners). */
  readonly extraListeners?: readonly string[];
  /**
   * Puts something between the brokers and s3rver (e.g. a fault-injecting HTTP proxy): called once
   * s3rver runs; the brokers use the returned endpoint; stop() runs before s3rver stops.
   */
  readonly wrapS3?: (s3: S3TestServer) => Promise<{ readonly endpoint: string; stop(): Promise<void> }>;
}

export interface PartitionMetadata {
  readonly partition: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly errorCode: number;
}

export interface ClusterMetadata {
  /** Broker ids listed as live, sorted. */
  readonly brokerIds: number[];
  readonly topicErrorCode: number;
  readonly partitions: PartitionMetadata[];
}

export interface TestCluster {
  readonly etcd: EtcdServer;
  readonly s3: S3TestServer;
  /** Index = broker id. */
  readonly brokers: readonly BrokerProcess[];
  /** Every broker's host:port, comma-separated, for clients' bootstrap lists. */
  readonly bootstrap: string;
  readonly sessionTtlMs: number;
  /** SIGSTOP: the process keeps its sockets but runs nothing (no keep-alives: its lease expires). */
  freeze(brokerId: number): void;
  /** SIGCONT. */
  thaw(brokerId: number): void;
  isFrozen(brokerId: number): boolean;
  /** Creates a topic through any answering broker; throws unless it was created. */
  createTopic(topic: string, partitions: number): Promise<void>;
  /** Metadata for `topic` as seen by `brokerId` (default: the first broker that answers). */
  metadata(topic: string, brokerId?: number): Promise<ClusterMetadata>;
  /** Waits until every partition of `topic` names a leader among the live brokers; bounded by timeoutMs. */
  waitForLeaders(topic: string, partitions: number, timeoutMs: number): Promise<ClusterMetadata>;
  /** Starts one more broker with the cluster's settings (appended to `brokers`; allocated id unless ids are configured: then its index). */
  addBroker(): Promise<BrokerProcess>;
  /** Stops every broker, s3rver and etcd; idempotent, never throws for one part failing. */
  stop(): Promise<void>;
}

export async function startCluster(options: StartClusterOptions = {}): Promise<TestCluster> {
  const count = options.brokers ?? 3;
  const sessionTtlMs = options.sessionTtlMs ?? 2_000;
  const parts: Array<{ stop(): Promise<void> }> = [];
  const frozen = new Set<number>();
  const brokers: BrokerProcess[] = [];
  let stopping: Promise<void> | null = null;

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const id of frozen) signal(brokers[id], 'SIGCONT');
      frozen.clear();
      // Brokers stop concurrently (each may wait up to its drain grace); the stores after them.
      await Promise.allSettled(brokers.map((broker) => broker.stop()));
      for (const part of parts.reverse()) {
        try {
          await part.stop();
        } catch {
          // keep stopping the rest
        }
      }
    })();
    return stopping;
  };

  try {
    const etcd = await startEtcdServer();
    parts.push({ stop: () => etcd.close() });
    const s3 = await startS3Server({ bucket: `kafscale-${randomUUID().slice(0, 8)}` });
    parts.push(s3);
    let s3Endpoint = s3.endpoint;
    if (options.wrapS3 !== undefined) {
      const wrapper = await options.wrapS3(s3);
      parts.push(wrapper);
      s3Endpoint = wrapper.endpoint;
    }
    const env: Record<string, string> = {
      KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint,
      KAFSCALE_S3_BUCKET: s3.bucket,
      KAFSCALE_S3_ENDPOINT: s3Endpoint,
      KAFSCALE_S3_PATH_STYLE: 'true',
      KAFSCALE_S3_ACCESS_KEY: s3.accessKeyId,
      KAFSCALE_S3_SECRET_KEY: s3.secretAccessKey,
      KAFSCALE_S3_REGION: s3.region,
      KAFSCALE_BROKER_SESSION_TTL_MS: String(sessionTtlMs),
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      ...options.env,
    };
    // One at a time: concurrent first starts would race to create the cluster id (that race is the
    // broker's business, but it is not what these tests are about).
    const launchBroker = (index: number): Promise<BrokerProcess> =>
      startBroker({
        env: options.allocateBrokerIds === true ? env : { ...env, KAFSCALE_BROKER_ID: String(index) },
        logLevel: options.logLevel ?? 'warn',
        ...(options.extraListeners === undefined ? {} : { extraListeners: options.extraListeners }),
      });
    for (let id = 0; id < count; id++) {
      brokers.push(await launchBroker(id));
    }

    const answering = async (preferred?: number): Promise<WireClient> => {
      const order = preferred === undefined ? brokers.map((_, id) => id) : [preferred];
      let lastError: unknown = new Error('no broker');
      for (const id of order) {
        if (frozen.has(id)) continue;
        const broker = brokers[id];
        if (broker === undefined) continue;
        try {
          await probeApiVersions(broker.host, broker.port, 1_000);
          return await WireClient.connect(broker.host, broker.port, 'kafscale-cluster-test');
        } catch (error) {
          lastError = error;
        }
      }
      throw lastError;
    };

    const metadata = async (topic: string, brokerId?: number): Promise<ClusterMetadata> => {
      const client = await answering(brokerId);
      try {
        const response = await client.send(
          3,
          METADATA_VERSION,
          { topics: [{ topicId: ZERO_UUID, name: topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
          5_000,
        );
        const described = response.topics.find((t) => t.name === topic);
        return {
          brokerIds: response.brokers.map((b) => b.nodeId).sort((a, b) => a - b),
          topicErrorCode: described?.errorCode ?? 3,
          partitions: (described?.partitions ?? [])
            .map((p) => ({ partition: p.partitionIndex, leaderId: p.leaderId, leaderEpoch: p.leaderEpoch, errorCode: p.errorCode }))
            .sort((a, b) => a.partition - b.partition),
        };
      } finally {
        client.close();
      }
    };

    return {
      etcd,
      s3,
      brokers,
      bootstrap: brokers.map((b) => b.bootstrap).join(','),
      sessionTtlMs,
      freeze(brokerId) {
        signal(brokers[brokerId], 'SIGSTOP');
        frozen.add(brokerId);
      },
      thaw(brokerId) {
        signal(brokers[brokerId], 'SIGCONT');
        frozen.delete(brokerId);
      },
      isFrozen: (brokerId) => frozen.has(brokerId),
      async createTopic(topic, partitions) {
        const client = await answering();
        try {
          const response = await client.send(
            19,
            CREATE_TOPICS_VERSION,
            { topics: [{ name: topic, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5_000, validateOnly: false },
            10_000,
          );
          const result = response.topics[0];
          if (result === undefined || result.errorCode !== 0) {
            throw new Error(`CreateTopics ${topic}: error code ${String(result?.errorCode)} ${result?.errorMessage ?? ''}`);
          }
        } finally {
          client.close();
        }
      },
      metadata,
      async addBroker() {
        const broker = await launchBroker(brokers.length);
        brokers.push(broker);
        return broker;
      },
      async waitForLeaders(topic, partitions, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        let last: ClusterMetadata | string = 'no answer yet';
        while (Date.now() < deadline) {
          try {
            const seen = await metadata(topic);
            last = seen;
            const ok =
              seen.topicErrorCode === 0 &&
              seen.partitions.length === partitions &&
              seen.partitions.every((p) => p.errorCode === 0 && seen.brokerIds.includes(p.leaderId));
            if (ok) return seen;
          } catch (error) {
            last = (error as Error).message;
          }
          await sleep(100);
        }
        throw new Error(`partitions of ${topic} have no live leaders after ${timeoutMs} ms: ${JSON.stringify(last)}`);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function signal(broker: BrokerProcess | undefined, name: 'SIGSTOP' | 'SIGCONT'): void {
  if (broker === undefined || broker.pid <= 0) return;
  try {
    process.kill(broker.pid, name);
  } catch {
    // already exited: nothing to freeze or thaw
  }
}

const LOCK_DIR = join(tmpdir(), 'kafscale-cluster-test.lock');

/**
 * Serialises the heavy cluster test files: `npm test` runs three files at once, and three 3-broker
 * clusters with their clients on 2 cores make a broker restart take 10 s instead of 2, which measures
 * the machine, not the failover. A directory is the lock (mkdir is atomic); a lock left by a process
 * that no longer exists is taken over. Resolves with the release function.
 */
export async function acquireClusterLock(timeoutMs: number): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  const owner = join(LOCK_DIR, 'pid');
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(owner, String(process.pid));
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(LOCK_DIR, { recursive: true, force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(owner, 'utf8'));
    } catch {
      // being created or removed right now
    }
    if (Number.isInteger(holder) && holder > 0 && !processExists(holder)) rmSync(LOCK_DIR, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error(`the cluster test lock ${LOCK_DIR} is still held by pid ${holder} after ${timeoutMs} ms`);
    await sleep(250);
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How long one cleanup may take before the next runs (a client stuck in a failed test must not hold the cluster). */
const STOP_TIMEOUT_MS = 15_000;

/**
 * Runs every cleanup, last registered first; one that throws or takes longer than `timeoutMs` does not
 * keep the rest — the cluster's processes and the cluster lock come last — from running.
 */
export async function stopInReverse(stops: Array<() => Promise<void> | void>, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
  for (const stop of stops.reverse()) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(stop),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            console.error(`# a cleanup took over ${timeoutMs} ms; going on with the next`);
            resolve();
          }, timeoutMs);
        }),
      ]);
    } catch {
      // stop the rest
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface ClusterFixture {
  /** The running cluster (set in `before`). */
  readonly cluster: TestCluster;
  readonly topic: string;
  /** Cleanups run in reverse order in `after`, also when a test failed. */
  readonly stops: Array<() => Promise<void> | void>;
}

/** Other cluster test files run first (acquireClusterLock); each takes well under a minute and a half. */
const CLUSTER_LOCK_WAIT_MS = 240_000;

/**
 * The set-up every cluster acceptance file shares: take the cluster lock (one 3-broker cluster at a
 * time on 2 cores), start the cluster, create the topic and wait until every partition has a leader;
 * stop everything afterwards. Registers node:test `before`/`after` hooks in the calling file.
 */
export function useClusterWithTopic(options: {
  readonly topicPrefix: string;
  readonly partitions: number;
  readonly brokers?: number;
  readonly sessionTtlMs: number;
  /** Extra environment for every broker. */
  readonly env?: Readonly<Record<string, string>>;
}): ClusterFixture {
  const stops: Array<() => Promise<void> | void> = [];
  const topic = `${options.topicPrefix}-${randomUUID().slice(0, 8)}`;
  let cluster: TestCluster | undefined;
  before(async () => {
    stops.push(await acquireClusterLock(CLUSTER_LOCK_WAIT_MS));
    cluster = await startCluster({ brokers: options.brokers ?? 3, sessionTtlMs: options.sessionTtlMs, ...(options.env === undefined ? {} : { env: options.env }) });
    const started = cluster;
    stops.push(() => started.stop());
    await started.createTopic(topic, options.partitions);
    await started.waitForLeaders(topic, options.partitions, 15_000);
  }, { timeout: CLUSTER_LOCK_WAIT_MS + 60_000 });
  // Room for every cleanup's own bound (stopInReverse), past the suite's 60 s per-test default.
  after(() => stopInReverse(stops), { timeout: 300_000 });
  return {
    get cluster(): TestCluster {
      if (cluster === undefined) throw new Error('the cluster is not started yet (use it inside a test)');
      return cluster;
    },
    topic,
    stops,
  };
}
