/**
 * Captures golden request frames from real Kafka clients.
 *
 *   node scripts/capture-fixtures.ts [--out test/fixtures/protocol]
 *
 * Starts a tiny fake broker on 127.0.0.1 (OS-chosen port) that records every request frame a client
 * sends and answers ApiVersions and Metadata with responses encoded by our codec, so the client moves
 * on to its next request. Drives kafkajs, @platformatic/kafka, kcat (librdkafka) and kafka-python against it and
 * writes one small hex JSON file per (client, api, version) seen.
 */
import { createServer, type Socket } from 'node:net';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeRequest, decodeRequestHeader, encodeResponse } from '../src/protocol/codec/index.ts';
import { apiKeyName } from '../src/protocol/api-keys.ts';
import { ErrorCode } from '../src/protocol/error-codes.ts';

interface Captured {
  client: string;
  apiKey: number;
  apiVersion: number;
  frame: Buffer;
}

const ADVERTISED = [
  { apiKey: 0, minVersion: 3, maxVersion: 11 },
  // librdkafka only uses magic-v2 batches when Fetch v4+ is advertised too (its MsgVer2 feature check).
  { apiKey: 1, minVersion: 4, maxVersion: 17 },
  { apiKey: 3, minVersion: 0, maxVersion: 12 },
  { apiKey: 18, minVersion: 0, maxVersion: 4 },
  { apiKey: 22, minVersion: 0, maxVersion: 5 },
];
const TOPIC = 'fixtures';
const TOPIC_ID = '6b61667363616c65a0000000000f1e57'.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
const NO_OPERATIONS = -2147483648;

function topicMetadata() {
  return {
    errorCode: 0, name: TOPIC, topicId: TOPIC_ID, isInternal: false, topicAuthorizedOperations: NO_OPERATIONS,
    partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }],
  };
}

function respond(apiKey: number, version: number, correlationId: number, port: number, frame: Buffer, bodyOffset: number): Buffer[] | null {
  if (apiKey === 18) {
    const supported = version <= 4;
    return encodeResponse(18, supported ? version : 0, correlationId, {
      errorCode: supported ? ErrorCode.NONE : ErrorCode.UNSUPPORTED_VERSION, apiKeys: ADVERTISED, throttleTimeMs: 0,
      supportedFeatures: [], finalizedFeaturesEpoch: -1n, finalizedFeatures: [], zkMigrationReady: false,
    });
  }
  if (apiKey === 3) {
    return encodeResponse(3, version, correlationId, {
      throttleTimeMs: 0, brokers: [{ nodeId: 1, host: '127.0.0.1', port, rack: null }], clusterId: 'fixtures',
      controllerId: 1, topics: [topicMetadata()], clusterAuthorizedOperations: NO_OPERATIONS,
    });
  }
  if (apiKey === 22) {
    return encodeResponse(22, version, correlationId, { throttleTimeMs: 0, errorCode: 0, producerId: 4242n, producerEpoch: 0 });
  }
  if (apiKey === 0) {
    const request = decodeRequest(0, version, frame, bodyOffset);
    if (request.acks === 0) return [];
    return encodeResponse(0, version, correlationId, {
      throttleTimeMs: 0, nodeEndpoints: [],
      responses: request.topicData.map((t) => ({
        name: t.name, topicId: TOPIC_ID,
        partitionResponses: t.partitionData.map((p) => ({
          index: p.index, errorCode: 0, baseOffset: 0n, logAppendTimeMs: -1n, logStartOffset: 0n, recordErrors: [],
          errorMessage: null, currentLeader: { leaderId: -1, leaderEpoch: -1 },
        })),
      })),
    });
  }
  return null;
}

/** Runs a fake broker for one client; resolves with the frames it saw once `drive` finishes. */
async function capture(client: string, drive: (port: number) => Promise<void>): Promise<Captured[]> {
  const seen: Captured[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    let pending = Buffer.alloc(0);
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = Buffer.from(pending.subarray(4, 4 + pending.readInt32BE(0)));
        pending = pending.subarray(4 + frame.length);
        const header = decodeRequestHeader(frame);
        seen.push({ client, apiKey: header.apiKey, apiVersion: header.apiVersion, frame });
        const chunks = respond(header.apiKey, header.apiVersion, header.correlationId, port, frame, header.bodyOffset);
        if (chunks === null) {
          socket.destroy();
          return;
        }
        if (chunks.length === 0) continue;
        const size = Buffer.alloc(4);
        size.writeInt32BE(chunks.reduce((n, c) => n + c.length, 0));
        socket.write(Buffer.concat([size, ...chunks]));
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  try {
    await drive(port);
  } catch (err) {
    console.error(`${client}: ${(err as Error).message} (frames captured so far are kept)`);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((ok) => server.close(() => ok()));
  }
  return seen;
}

async function driveKafkajs(port: number): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ clientId: 'fixtures-kafkajs', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  await admin.connect();
  await admin.listTopics();
  await admin.disconnect();
  const producer = new Kafka({ clientId: 'fixtures-kafkajs', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).producer();
  await producer.connect();
  await producer.send({ topic: TOPIC, messages: [{ key: 'k', value: 'hello from kafkajs', timestamp: '1700000000000' }] });
  await producer.disconnect();
}

async function drivePlatformatic(port: number): Promise<void> {
  const { Admin, Producer, stringSerializers } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: 'fixtures-platformatic', bootstrapBrokers: [`127.0.0.1:${port}`], retries: 0 });
  try {
    await admin.listTopics();
  } finally {
    await admin.close();
  }
  const producer = new Producer({ clientId: 'fixtures-platformatic', bootstrapBrokers: [`127.0.0.1:${port}`], retries: 0, serializers: stringSerializers });
  try {
    await producer.send({ messages: [{ topic: TOPIC, key: 'k', value: 'hello from platformatic', timestamp: 1700000000000n }] });
  } finally {
    await producer.close();
  }
}

function run(command: string, args: string[], input?: string): Promise<void> {
  return new Promise((ok, fail) => {
    const child = execFile(command, args, { timeout: 15_000 }, (err) => (err ? fail(err) : ok()));
    child.stdin?.end(input ?? '');
  });
}

async function driveKcat(port: number): Promise<void> {
  const common = ['-b', `127.0.0.1:${port}`, '-X', 'client.id=fixtures-kcat'];
  await run('kcat', [...common, '-L', '-m', '5']);
  await run('kcat', [...common, '-P', '-t', TOPIC, '-p', '0', '-K', ':'], 'k:hello from kcat\n');
}

function driveKafkaPython(port: number): Promise<void> {
  const script = [
    'from kafka import KafkaAdminClient',
    `a = KafkaAdminClient(bootstrap_servers='127.0.0.1:${port}', client_id='fixtures-kafka-python', request_timeout_ms=5000)`,
    'a.list_topics()',
    'a.close()',
  ].join('\n');
  return new Promise((ok, fail) => {
    execFile('/usr/bin/python3', ['-c', script], { timeout: 15_000 }, (err) => (err ? fail(err) : ok()));
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  const outDir = resolve(outIndex >= 0 ? args[outIndex + 1] ?? '' : 'test/fixtures/protocol');
  mkdirSync(outDir, { recursive: true });
  const all = [
    ...(await capture('kafkajs', driveKafkajs)),
    ...(await capture('platformatic', drivePlatformatic)),
    ...(await capture('kcat', driveKcat)),
    ...(await capture('kafka-python', driveKafkaPython)),
  ];
  const written = new Set<string>();
  for (const c of all) {
    const name = `${c.client}-${apiKeyName(c.apiKey).replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()}-v${c.apiVersion}-request.json`;
    if (written.has(name)) continue;
    written.add(name);
    const fixture = { client: c.client, apiKey: c.apiKey, apiVersion: c.apiVersion, kind: 'request', hex: c.frame.toString('hex') };
    writeFileSync(join(outDir, name), JSON.stringify(fixture, null, 2) + '\n');
    console.log(`wrote ${name} (${c.frame.length} bytes)`);
  }
}

await main();
