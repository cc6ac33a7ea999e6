/**
 * The protocol fuzzer (scripts/fuzz.ts, test/fault/protocol-fuzz.test.ts): a real broker process, a
 * number of fuzzing connections sending frames from fuzz-frames.ts one at a time, and a control
 * connection that keeps producing and fetching throughout. Judged per frame:
 *  - hang: neither a response nor a close within the bound (never allowed);
 *  - a response must carry the frame's correlation id and decode as the response of its API/version;
 *  - a corrupt record batch must never be acknowledged with success;
 *  - a truncated or oversized frame must end in a closed connection.
 * At the end: the broker process is alive and answers; the control connection never failed and its
 * topic holds exactly what it was told; every batch stored in the fuzz topic has a valid CRC and decodes.
 */
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeResponse, type ResponseByKey } from '../../../src/protocol/codec/index.ts';
import { encodeRecordBatch } from '../../../src/protocol/records/index.ts';
import { probeApiVersions, startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { WireClient } from '../../helpers/wire-client.ts';
import { readLogTolerant } from '../chaos/chaos-verify.ts';
import { BAD_BATCH_KINDS, FRAME_KINDS, FUZZ_PARTITIONS, FUZZ_TOPIC, FrameFactory, schemaVersions, type BadBatchKind, type FrameKind, type FuzzFrame } from './fuzz-frames.ts';

export const CONTROL_TOPIC = 'fuzz-control';
const MAX_FRAME_BYTES = 1024 * 1024;
/** connections.max.idle.ms: short, so that connections holding half a frame are closed within the run. */
const IDLE_CLOSE_MS = 5_000;
/** Beyond the request's own wait: on a busy 2-core machine a broker can take seconds to answer. */
const HANG_BOUND_MS = 15_000;
/** Frames whose decoded request asks for a longer wait than this are legitimately held; not sent. */
const MAX_LEGIT_WAIT_MS = 2_000;
const CONTROL_INTERVAL_MS = 200;
const CONTROL_SLOW_MS = 10_000;

const WEIGHTS: Readonly<Record<FrameKind, number>> = { schema: 30, mutated: 40, random: 10, truncated: 6, oversized: 4, 'bad-batch': 10 };

export interface FuzzOptions {
  readonly frames: number;
  readonly seed: number;
  readonly connections?: number;
  readonly log?: (line: string) => void;
  /** Progress line every this many frames (default 100,000). */
  readonly progressEvery?: number;
}

export interface KindCounts {
  sent: number;
  answered: number;
  closed: number;
  noResponseExpected: number;
}

export interface FuzzReport {
  readonly seed: number;
  readonly frames: number;
  readonly elapsedMs: number;
  readonly byKind: Record<FrameKind, KindCounts>;
  readonly badBatches: Record<BadBatchKind, { sent: number; rejected: number; closed: number; accepted: number }>;
  readonly apiVersionsCovered: number;
  readonly apiVersionsInSchemas: number;
  readonly skippedLongWaits: number;
  readonly wellFormedClosed: Record<string, number>;
  readonly hangs: string[];
  readonly crashes: string[];
  readonly badResponses: string[];
  readonly acceptedBadBatches: string[];
  readonly unclosed: string[];
  /** idleCloses: the control connection was closed after this process itself left it idle past connections.max.idle.ms. */
  readonly control: { readonly rounds: number; readonly failures: string[]; readonly maxLatencyMs: number; readonly idleCloses: number };
  readonly storedProblems: string[];
  /** Stored batches in the fuzz topic whose records do not decode (they came from acknowledged corrupt batches). */
  readonly undecodableStored: number;
  readonly brokerRssMiB: number;
  readonly brokerErrors: Array<{ readonly msg: string; readonly count: number }>;
}

type Outcome = { readonly kind: 'answered'; readonly frame: Buffer } | { readonly kind: 'closed' } | { readonly kind: 'timeout' };

/** One fuzzing connection: sends a frame, waits for one response frame or the close. */
class FuzzConnection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #closed = false;
  #waiter: ((outcome: Outcome) => void) | null = null;
  readonly #ready: Promise<void>;

  constructor(host: string, port: number) {
    this.#socket = connect({ host, port });
    this.#socket.setNoDelay(true);
    this.#ready = new Promise((resolve, reject) => {
      this.#socket.once('connect', () => resolve());
      this.#socket.once('error', reject);
    });
    this.#socket.on('error', () => {});
    this.#socket.on('close', () => {
      this.#closed = true;
      this.#settle({ kind: 'closed' });
    });
    this.#socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      if (this.#buffer.length < 4) return;
      const size = this.#buffer.readInt32BE(0);
      if (this.#buffer.length < 4 + size) return;
      const frame = this.#buffer.subarray(4, 4 + size);
      this.#buffer = this.#buffer.subarray(4 + size);
      this.#settle({ kind: 'answered', frame });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  async ready(): Promise<void> {
    await this.#ready;
  }

  async exchange(frame: FuzzFrame, timeoutMs: number): Promise<Outcome> {
    const outcome = new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => this.#settle({ kind: 'timeout' }), timeoutMs);
      this.#waiter = (result) => {
        clearTimeout(timer);
        resolve(result);
      };
    });
    if (this.#closed) this.#settle({ kind: 'closed' });
    else {
      this.#socket.write(frame.bytes);
      if (frame.endAfter) this.#socket.end();
    }
    return outcome;
  }

  /** Sends without waiting (acks=0 Produce), then drops the connection. */
  fireAndClose(frame: FuzzFrame): void {
    this.#socket.end(frame.bytes);
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #settle(outcome: Outcome): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.(outcome);
  }
}

function emptyCounts(): KindCounts {
  return { sent: 0, answered: 0, closed: 0, noResponseExpected: 0 };
}

function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? -1 : Math.round(Number(match[1]) / 1024);
  } catch {
    return -1;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pickKind(random: () => number): FrameKind {
  const total = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);
  let pick = random() * total;
  for (const kind of FRAME_KINDS) {
    pick -= WEIGHTS[kind];
    if (pick < 0) return kind;
  }
  return 'schema';
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {});
  const startedMs = Date.now();
  const broker = await startBroker({
    logLevel: 'error',
    env: {
      KAFSCALE_SOCKET_REQUEST_MAX_BYTES: String(MAX_FRAME_BYTES),
      KAFSCALE_CONNECTIONS_MAX_IDLE_MS: String(IDLE_CLOSE_MS),
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    },
  });
  try {
    return await fuzzBroker(broker, options, log, startedMs);
  } finally {
    await broker.stop();
  }
}

async function createTopic(client: WireClient, name: string, partitions: number): Promise<void> {
  const response = await client.send(19, 5, { topics: [{ name, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5_000, validateOnly: false });
  const code = response.topics[0]?.errorCode;
  if (code !== 0) throw new Error(`CreateTopics ${name}: error ${code}`);
}

async function fuzzBroker(broker: BrokerProcess, options: FuzzOptions, log: (line: string) => void, startedMs: number): Promise<FuzzReport> {
  const setup = await WireClient.connect(broker.host, broker.port, 'fuzz-setup');
  const versions = await setup.send(18, 3, { clientSoftwareName: 'kafscale-fuzz', clientSoftwareVersion: '1' });
  const advertised = new Map(versions.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]));
  await createTopic(setup, FUZZ_TOPIC, FUZZ_PARTITIONS);
  await createTopic(setup, CONTROL_TOPIC, 1);
  setup.close();
  const supported = (apiKey: number, version: number): boolean => {
    const range = advertised.get(apiKey);
    return range !== undefined && version >= range.min && version <= range.max;
  };

  const byKind = Object.fromEntries(FRAME_KINDS.map((k) => [k, emptyCounts()])) as Record<FrameKind, KindCounts>;
  const badBatches = Object.fromEntries(BAD_BATCH_KINDS.map((k) => [k, { sent: 0, rejected: 0, closed: 0, accepted: 0 }])) as FuzzReport['badBatches'];
  const covered = new Set<string>();
  const wellFormedClosed: Record<string, number> = {};
  const hangs: string[] = [];
  const crashes: string[] = [];
  const badResponses: string[] = [];
  const acceptedBadBatches: string[] = [];
  const unclosed: string[] = [];
  let skippedLongWaits = 0;
  let sent = 0;
  let stop = false;
  const note = (list: string[], line: string): void => {
    if (list.length < 50) list.push(line);
  };

  // Control connection: produce one record, fetch it back, every CONTROL_INTERVAL_MS.
  const control = { rounds: 0, failures: [] as string[], maxLatencyMs: 0, idleCloses: 0 };
  const controlAcks: Array<{ offset: bigint; value: string }> = [];
  const controlLoop = (async () => {
    let client = await WireClient.connect(broker.host, broker.port, 'fuzz-control');
    let lastAnswerMs = Date.now();
    while (!stop) {
      const value = `control-${control.rounds}`;
      const began = Date.now();
      // On a starved machine this process can sleep past connections.max.idle.ms between rounds; the
      // broker then rightly closes the idle connection. That is not a failure of the broker.
      const idleBeforeMs = began - lastAnswerMs;
      try {
        const produced = await client.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 5_000, topicData: [{ name: CONTROL_TOPIC, partitionData: [{ index: 0, records: encodeRecordBatch({ records: [{ value }] }) }] }] }, CONTROL_SLOW_MS);
        const result = produced.responses[0]?.partitionResponses[0];
        if (result?.errorCode !== 0) throw new Error(`produce answered error ${result?.errorCode}`);
        controlAcks.push({ offset: result.baseOffset, value });
        const fetched = await client.send(1, 12, {
          maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
          topics: [{ topic: CONTROL_TOPIC, topicId: '00000000-0000-0000-0000-000000000000', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: result.baseOffset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: '00000000-0000-0000-0000-000000000000' }] }],
          forgottenTopicsData: [], rackId: '',
        }, CONTROL_SLOW_MS);
        const data = fetched.responses[0]?.partitions[0];
        if (data?.errorCode !== 0 || (data.records?.length ?? 0) === 0) throw new Error(`fetch of ${result.baseOffset} answered error ${data?.errorCode} with ${data?.records?.length ?? 0} bytes`);
        if (!data.records!.includes(Buffer.from(value))) throw new Error(`fetch of ${result.baseOffset} did not return ${value}`);
        lastAnswerMs = Date.now();
      } catch (error) {
        if (client.isClosed && idleBeforeMs >= IDLE_CLOSE_MS) control.idleCloses++;
        else note(control.failures, `round ${control.rounds} at +${Math.round((Date.now() - startedMs) / 1000)} s (idle ${idleBeforeMs} ms before it): ${(error as Error).message}`);
        lastAnswerMs = Date.now();
        client.close();
        client = await WireClient.connect(broker.host, broker.port, 'fuzz-control').catch(() => client);
      }
      control.maxLatencyMs = Math.max(control.maxLatencyMs, Date.now() - began);
      control.rounds++;
      await sleep(CONTROL_INTERVAL_MS);
    }
    client.close();
  })();

  // A seeded PRNG for the kind choice, separate from the frame factories' (one per worker).
  let kindState = options.seed >>> 0;
  const kindRandom = (): number => {
    kindState ^= kindState << 13;
    kindState ^= kindState >>> 17;
    kindState ^= kindState << 5;
    return (kindState >>> 0) / 0x1_0000_0000;
  };
  const progressEvery = options.progressEvery ?? 100_000;

  const worker = async (id: number): Promise<void> => {
    const factory = new FrameFactory(options.seed * 131 + id, MAX_FRAME_BYTES, advertised);
    let connection: FuzzConnection | null = null;
    while (!stop && sent < options.frames) {
      const frame = factory.next(pickKind(kindRandom));
      if (frame.waitMs > MAX_LEGIT_WAIT_MS) {
        skippedLongWaits++;
        continue;
      }
      const index = sent++;
      if (index > 0 && index % progressEvery === 0) log(`fuzz: ${index} frames, +${Math.round((Date.now() - startedMs) / 1000)} s, broker RSS ${rssMiB(broker.pid)} MiB`);
      if (connection === null || connection.closed || frame.endAfter) {
        connection?.destroy();
        connection = new FuzzConnection(broker.host, broker.port);
        try {
          await connection.ready();
        } catch (error) {
          if (!alive(broker.pid)) note(crashes, `broker process ${broker.pid} is gone (frame ${index}); last log lines:\n${broker.logs().trimEnd().split('\n').slice(-10).join('\n')}`);
          else note(crashes, `connection refused at frame ${index}: ${(error as Error).message}`);
          stop = true;
          return;
        }
      }
      const counts = byKind[frame.kind];
      counts.sent++;
      if (frame.wellFormed) covered.add(`${frame.apiKey}/${frame.version}`);
      if (frame.noResponseExpected) {
        counts.noResponseExpected++;
        connection.fireAndClose(frame);
        connection = null;
        continue;
      }
      const outcome = await connection.exchange(frame, HANG_BOUND_MS + frame.waitMs);
      const label = `frame ${index} (${frame.kind}${frame.badBatch === null ? '' : `/${frame.badBatch}`}, api ${frame.apiKey} v${frame.version}, ${frame.bytes.length} bytes: ${frame.bytes.subarray(0, 24).toString('hex')}…)`;
      if (outcome.kind === 'timeout') {
        note(hangs, `${label}: neither answered nor closed within ${HANG_BOUND_MS + frame.waitMs} ms`);
        connection.destroy();
        connection = null;
        continue;
      }
      if (outcome.kind === 'closed') {
        counts.closed++;
        connection = null;
        if (frame.badBatch !== null) {
          badBatches[frame.badBatch].sent++;
          badBatches[frame.badBatch].closed++;
        }
        if (frame.wellFormed && supported(frame.apiKey, frame.version)) {
          const key = `${frame.apiKey}/v${frame.version}`;
          wellFormedClosed[key] = (wellFormedClosed[key] ?? 0) + 1;
        }
        continue;
      }
      counts.answered++;
      if (frame.kind === 'truncated' || frame.kind === 'oversized') note(unclosed, `${label}: answered instead of closing the connection`);
      checkResponse(frame, outcome.frame, supported, label, badResponses, acceptedBadBatches, badBatches);
    }
    connection?.destroy();
  };

  // A few connections that send half a frame and then nothing: the broker must close them when idle.
  const stalled = async (): Promise<void> => {
    const factory = new FrameFactory(options.seed ^ 0x57a11, MAX_FRAME_BYTES, advertised);
    for (let i = 0; i < 5 && !stop; i++) {
      const whole = factory.next('schema').bytes;
      const partial = whole.subarray(0, Math.max(5, Math.floor(whole.length / 2)));
      const socket = connect({ host: broker.host, port: broker.port });
      socket.on('error', () => {});
      const closedWithin = await new Promise<number>((resolve) => {
        const began = Date.now();
        const timer = setTimeout(() => resolve(-1), IDLE_CLOSE_MS + HANG_BOUND_MS);
        socket.once('connect', () => socket.write(partial));
        socket.once('close', () => {
          clearTimeout(timer);
          resolve(Date.now() - began);
        });
      });
      socket.destroy();
      if (closedWithin < 0) note(hangs, `a connection holding half a frame (${partial.length} of ${whole.length} bytes) was not closed within ${IDLE_CLOSE_MS + HANG_BOUND_MS} ms (connections.max.idle.ms ${IDLE_CLOSE_MS})`);
      await sleep(1_000);
    }
  };

  const connections = options.connections ?? 16;
  await Promise.all([...Array.from({ length: connections }, (_, id) => worker(id)), stalled()]);
  stop = true;
  await controlLoop;

  const storedProblems: string[] = [];
  let undecodableStored = 0;
  let probe = -1;
  try {
    probe = await probeApiVersions(broker.host, broker.port, 5_000);
  } catch (error) {
    note(crashes, `the broker does not answer ApiVersions after the run: ${(error as Error).message}`);
  }
  if (!alive(broker.pid)) note(crashes, 'the broker process is gone after the run');
  if (probe === 0) {
    const controlLog = await readLogTolerant(broker.host, broker.port, CONTROL_TOPIC, 0);
    storedProblems.push(...controlLog.anomalies.map((a) => `${CONTROL_TOPIC} ${a}`));
    for (const ack of controlAcks) {
      const stored = controlLog.records.get(ack.offset);
      if (stored !== ack.value) storedProblems.push(`${CONTROL_TOPIC}: ${ack.value} acknowledged at ${ack.offset}, the log holds ${stored ?? 'nothing'} there`);
    }
    if (controlLog.records.size !== controlAcks.length) storedProblems.push(`${CONTROL_TOPIC}: ${controlLog.records.size} records stored, ${controlAcks.length} acknowledged (it must hold exactly the control connection's records)`);
    for (let p = 0; p < FUZZ_PARTITIONS; p++) {
      // Batches the broker acknowledged although their records are not records (reported above as
      // acknowledged corrupt batches) cannot be decoded; what counts here is that what is stored is
      // what was sent: CRCs intact, offsets without holes.
      const fuzzLog = await readLogTolerant(broker.host, broker.port, FUZZ_TOPIC, p);
      for (const anomaly of fuzzLog.anomalies) {
        if (anomaly.includes('cannot be decoded')) undecodableStored++;
        else storedProblems.push(`${FUZZ_TOPIC} ${anomaly}`);
      }
    }
  }
  const brokerErrors = new Map<string, number>();
  for (const line of broker.logs().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string; type?: string } };
      if ((parsed.level ?? 0) < 50) continue;
      const msg = `${parsed.msg ?? ''}${parsed.err === undefined ? '' : `: ${parsed.err.type ?? ''} ${parsed.err.message ?? ''}`}`.slice(0, 200);
      brokerErrors.set(msg, (brokerErrors.get(msg) ?? 0) + 1);
    } catch {
      // not a log line
    }
  }
  return {
    seed: options.seed,
    frames: sent,
    elapsedMs: Date.now() - startedMs,
    byKind,
    badBatches,
    apiVersionsCovered: covered.size,
    apiVersionsInSchemas: schemaVersions(),
    skippedLongWaits,
    wellFormedClosed,
    hangs,
    crashes,
    badResponses,
    acceptedBadBatches,
    unclosed,
    control,
    storedProblems,
    undecodableStored,
    brokerRssMiB: rssMiB(broker.pid),
    brokerErrors: [...brokerErrors].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([msg, count]) => ({ msg, count })),
  };
}

function checkResponse(
  frame: FuzzFrame,
  response: Buffer,
  supported: (apiKey: number, version: number) => boolean,
  label: string,
  badResponses: string[],
  acceptedBadBatches: string[],
  badBatches: FuzzReport['badBatches'],
): void {
  const note = (list: string[], line: string): void => {
    if (list.length < 50) list.push(line);
  };
  if (response.length < 4) {
    note(badResponses, `${label}: a response of ${response.length} bytes`);
    return;
  }
  const correlationId = response.readInt32BE(0);
  if (!Number.isNaN(frame.correlationId) && correlationId !== frame.correlationId) {
    note(badResponses, `${label}: response correlation id ${correlationId}, the frame's is ${frame.correlationId}`);
    return;
  }
  if (!frame.wellFormed) return; // answered although the codec cannot decode it: the header was enough for an error
  const isApiVersions = frame.apiKey === 18;
  const version = isApiVersions && !supported(18, frame.version) ? 0 : frame.version;
  let decoded: { body: unknown };
  try {
    decoded = decodeResponse(frame.apiKey as keyof ResponseByKey, version, response);
  } catch (error) {
    note(badResponses, `${label}: the response does not decode as ${frame.apiKey} v${version}: ${(error as Error).message}`);
    return;
  }
  if (frame.badBatch === null) return;
  const stats = badBatches[frame.badBatch];
  stats.sent++;
  const partitions = (decoded.body as ResponseByKey[0]).responses.flatMap((t) => t.partitionResponses);
  if (partitions.some((p) => p.errorCode === 0)) {
    stats.accepted++;
    const p = partitions.find((q) => q.errorCode === 0);
    note(acceptedBadBatches, `${label}: a ${frame.badBatch} batch was acknowledged at offset ${p?.baseOffset}`);
  } else stats.rejected++;
}
