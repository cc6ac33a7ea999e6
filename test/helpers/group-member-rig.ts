/**
 * What the group-member suites that run each member as a child process share: a broker that rebalances
 * at once and accepts short sessions, a kafkajs producer, a wire client for CreateTopics and OffsetFetch,
 * and the member processes, SIGKILLed in after() if a test left any running. Registers node:test
 * before/after hooks; the parts are there inside the tests.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import kafkajs, { type Producer } from 'kafkajs';
import { startBroker, type BrokerProcess } from './broker-process.ts';
import { WireClient } from './wire-client.ts';

export interface MemberProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

export interface GroupMemberRig {
  readonly broker: BrokerProcess;
  readonly producer: Producer;
  readonly wire: WireClient;
  /** Creates `topic` (the broker picks the replication) and fails the test unless it was created. */
  createTopic(topic: string, partitions: number): Promise<void>;
  /** Starts a member process; `onLine` gets each line it prints on stdout. */
  startMember(command: string, args: readonly string[], onLine: (line: string) => void): MemberProcess;
}

export interface GroupMemberRigOptions {
  /** The producer's client id. */
  readonly clientId: string;
  /** Extra broker environment (e.g. the KIP-848 session timeout). */
  readonly brokerEnv?: Readonly<Record<string, string>>;
  /** False when the suite's client is missing and its tests skip: nothing is started then. */
  readonly enabled?: boolean;
}

export function registerGroupMemberRig(options: GroupMemberRigOptions): GroupMemberRig {
  let broker: BrokerProcess | undefined;
  let producer: Producer | undefined;
  let wire: WireClient | undefined;
  const children = new Set<ChildProcess>();
  const started = <T>(part: T | undefined, name: string): T => {
    if (part === undefined) throw new Error(`the group-member rig's ${name} is not started (use it inside a test)`);
    return part;
  };

  before(async () => {
    if (options.enabled === false) return;
    broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0', KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '1000', ...options.brokerEnv }, logLevel: 'warn' });
    producer = new kafkajs.Kafka({ clientId: options.clientId, brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING }).producer();
    await producer.connect();
    wire = await WireClient.connect(broker.host, broker.port);
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    wire?.close();
    await producer?.disconnect().catch(() => {});
    await broker?.stop();
  });

  return {
    get broker() {
      return started(broker, 'broker');
    },
    get producer() {
      return started(producer, 'producer');
    },
    get wire() {
      return started(wire, 'wire client');
    },
    async createTopic(topic, partitions) {
      const created = await started(wire, 'wire client').send(19, 5, { topics: [{ name: topic, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
      assert.equal(created.topics[0]?.errorCode, 0);
    },
    startMember(command, args, onLine) {
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      children.add(child);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      void exited.then(() => children.delete(child));
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', onLine);
      return { child, exited };
    },
  };
}
