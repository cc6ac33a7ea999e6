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
import { decodeRequestHeader, encodeResponse } from '../src/protocol/codec/index.ts';
import { apiKeyName } from '../src/protocol/api-keys.ts';
import { ErrorCode } from '../src/protocol/error-codes.ts';

interface Captured {
  client: string;
  apiKey: number;
  apiVersion: number;
  frame: Buffer;
}

const ADVERTISED = [
  { apiKey: 18, minVersion: 0, maxVersion: 4 },
  { apiKey: 3, minVersion: 0, maxVersion: 12 },
];
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

function respond(apiKey: number, version: number, correlationId: number, port: number): Buffer[] | null {
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
      controllerId: 1, topics: [], clusterAuthorizedOperations: -2147483648,
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
        const chunks = respond(header.apiKey, header.apiVersion, header.correlationId, port);
        if (chunks === null) {
          socket.destroy();
          return;
        }
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
}

async function drivePlatformatic(port: number): Promise<void> {
  const { Admin } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: 'fixtures-platformatic', bootstrapBrokers: [`127.0.0.1:${port}`], retries: 0 });
  try {
    await admin.listTopics();
  } finally {
    await admin.close();
  }
}

function driveKcat(port: number): Promise<void> {
  return new Promise((ok, fail) => {
    execFile('kcat', ['-b', `127.0.0.1:${port}`, '-L', '-m', '5', '-X', 'client.id=fixtures-kcat'], { timeout: 15_000 }, (err) => (err ? fail(err) : ok()));
  });
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
