import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import type { ConnectionContext, RequestDispatcher } from '../broker/dispatch.ts';
import { ProduceOrder, type ProduceTicket } from '../protocol/produce-order.ts';
import { FrameDecoder, sizePrefix } from '../protocol/frame.ts';
import { createLogger, silentLogger } from '../telemetry/logger.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';
import { KafscaleMetrics } from '../telemetry/metrics.ts';
import { KafkaServer, type KafkaServerOptions } from './kafka-server.ts';
import { waitFor } from '../../test/helpers/wait-for.ts';

/** Test frames: int16 api key (18), int32 correlation id, then padding. */
function request(correlationId: number, padding = 0): Buffer {
  const body = Buffer.alloc(6 + padding);
  body.writeInt16BE(18, 0);
  body.writeInt32BE(correlationId, 2);
  return Buffer.concat([sizePrefix([body]), body]);
}

function correlationOf(frame: Buffer): number {
  return frame.readInt32BE(2);
}

/** Echoes the request header back as the response; behaviour per request is up to `respond`. */
class FakeDispatcher implements RequestDispatcher {
  readonly calls: number[] = [];
  readonly contexts = new Set<ConnectionContext>();
  /** The connection's Produce ordering ticket as each request was dispatched. */
  readonly tickets: Array<ProduceTicket | undefined> = [];
  respond: (correlationId: number) => Promise<readonly Buffer[] | null> | readonly Buffer[] | null = (id) => [header(id)];

  async handle(frame: Buffer, connection: ConnectionContext): Promise<readonly Buffer[] | null> {
    const id = correlationOf(frame);
    this.calls.push(id);
    this.tickets.push(connection.produceOrder?.ticket());
    this.contexts.add(connection);
    return this.respond(id);
  }

  newProduceOrder(): ProduceOrder {
    return new ProduceOrder();
  }
}

function header(correlationId: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32BE(correlationId);
  return out;
}

class TestClient {
  readonly socket: Socket;
  readonly responses: number[] = [];
  readonly closed: Promise<void>;
  readonly #decoder = new FrameDecoder(64 * 1024 * 1024);
  #waiters: Array<() => void> = [];

  constructor(socket: Socket) {
    this.socket = socket;
    this.closed = once(socket, 'close').then(() => undefined);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let f = this.#decoder.next(); f !== null; f = this.#decoder.next()) this.responses.push(f.readInt32BE(0));
      for (const wake of this.#waiters) wake();
    });
  }

  static async connect(t: TestContext, port: number): Promise<TestClient> {
    const socket = connect({ host: '127.0.0.1', port });
    t.after(() => socket.destroy());
    await once(socket, 'connect');
    return new TestClient(socket);
  }

  async waitForResponses(count: number, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.responses.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`expected ${count} responses, got ${this.responses.length}`);
      await Promise.race([new Promise<void>((resolve) => this.#waiters.push(resolve)), sleep(Math.min(left, 100))]);
      this.#waiters = [];
    }
  }
}

async function startServer(t: TestContext, dispatcher: RequestDispatcher, overrides: Partial<KafkaServerOptions> = {}): Promise<KafkaServer> {
  const server = new KafkaServer({
    dispatcher,
    host: '127.0.0.1',
    port: 0,
    maxFrameBytes: 1024 * 1024,
    maxInflightPerConnection: 64,
    idleTimeoutMs: 60_000,
    logger: silentLogger(),
    ...overrides,
  });
  t.after(() => server.close({ drainMs: 100 }));
  await server.start();
  return server;
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The server's state changes within milliseconds: poll often, fail after 3 s. */
const until = (condition: () => boolean, what: string): Promise<number> => waitFor(what, condition, { timeoutMs: 3_000, intervalMs: 5 });

describe('KafkaServer', () => {
  test('start() reports the bound port and close() is idempotent', async (t) => {
    const server = await startServer(t, new FakeDispatcher());
    assert.ok(server.port > 0);
    const first = server.close();
    assert.equal(server.close(), first);
    await first;
    await assert.rejects(TestClient.connect(t, server.port));
  });

  test('a port in use fails start() naming the address', async (t) => {
    const a = await startServer(t, new FakeDispatcher());
    const b = new KafkaServer({ dispatcher: new FakeDispatcher(), host: '127.0.0.1', port: a.port, maxFrameBytes: 1024, maxInflightPerConnection: 1, idleTimeoutMs: 1000, logger: silentLogger() });
    await assert.rejects(b.start(), (error: unknown) => error instanceof KafscaleError && error.code === 'KSC_LISTEN_FAILED' && /Cannot listen for Kafka clients on 127\.0\.0\.1:\d+.*KAFSCALE_BROKER_ADDR/.test(error.message));
  });

  test('pipelined requests are dispatched without waiting and answered in order when handlers finish out of order', async (t) => {
    const dispatcher = new FakeDispatcher();
    const count = 10;
    let releaseAll: () => void = () => {};
    const allCalled = new Promise<void>((resolve) => {
      releaseAll = resolve;
    });
    dispatcher.respond = async (id) => {
      // No handler finishes until every request has been dispatched: a server that awaited earlier
      // requests before dispatching later ones would deadlock here.
      if (dispatcher.calls.length === count) releaseAll();
      await allCalled;
      await sleep((count - id) * 3);
      return [header(id)];
    };
    const server = await startServer(t, dispatcher);
    const client = await TestClient.connect(t, server.port);
    client.socket.write(Buffer.concat(Array.from({ length: count }, (_, i) => request(i))));
    await client.waitForResponses(count);
    assert.deepEqual(client.responses, Array.from({ length: count }, (_, i) => i));
  });

  test('every connection has Produce ordering state; requests received and responses written are counted', async (t) => {
    const dispatcher = new FakeDispatcher();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    dispatcher.respond = async (id) => {
      if (id === 0) await held; // the first response holds back the two pipelined behind it
      return id === 1 ? null : [header(id)];
    };
    const server = await startServer(t, dispatcher);
    const client = await TestClient.connect(t, server.port);
    client.socket.write(Buffer.concat([request(0), request(1), request(2)]));
    await until(() => dispatcher.calls.length === 3, 'three requests dispatched');
    release();
    await client.waitForResponses(2);
    client.socket.write(request(3));
    await client.waitForResponses(3);
    // Index n is the request's position; writtenBefore counts answered requests (a null answer included).
    assert.deepEqual(dispatcher.tickets, [
      { index: 1, writtenBefore: 0 },
      { index: 2, writtenBefore: 0 },
      { index: 3, writtenBefore: 0 },
      { index: 4, writtenBefore: 3 },
    ]);
  });

  test('a null result writes nothing but keeps the order of the others', async (t) => {
    const dispatcher = new FakeDispatcher();
    dispatcher.respond = async (id) => {
      await sleep(id % 3);
      return id % 2 === 0 ? null : [header(id)];
    };
    const server = await startServer(t, dispatcher);
    const client = await TestClient.connect(t, server.port);
    for (let i = 0; i < 9; i++) client.socket.write(request(i));
    await client.waitForResponses(4);
    await sleep(50);
    assert.deepEqual(client.responses, [1, 3, 5, 7]);
  });

  test('a response made of several chunks goes out as one frame', async (t) => {
    const dispatcher = new FakeDispatcher();
    dispatcher.respond = (id) => [header(id), Buffer.from('abc'), Buffer.alloc(0), Buffer.from('de')];
    const server = await startServer(t, dispatcher);
    const socket = connect({ host: '127.0.0.1', port: server.port });
    t.after(() => socket.destroy());
    await once(socket, 'connect');
    socket.write(request(5));
    const [data] = (await once(socket, 'data')) as [Buffer];
    assert.deepEqual(data, Buffer.concat([Buffer.from([0, 0, 0, 9, 0, 0, 0, 5]), Buffer.from('abcde')]));
  });

  test('an oversized frame closes the connection from its 4-byte header alone; others are unaffected', async (t) => {
    const dispatcher = new FakeDispatcher();
    const metrics = new KafscaleMetrics();
    const server = await startServer(t, dispatcher, { metrics, maxFrameBytes: 100 * 1024 * 1024 });
    const bystander = await TestClient.connect(t, server.port);
    const client = await TestClient.connect(t, server.port);
    const claim = Buffer.alloc(4);
    claim.writeInt32BE(200 * 1024 * 1024);
    client.socket.write(claim);
    await within(client.closed, 2000, 'the server to close the connection');
    assert.deepEqual(dispatcher.calls, []);
    assert.match(await metrics.registry.getSingleMetricAsString('kafscale_frames_rejected_total'), /reason="too_large"\} 1/);
    bystander.socket.write(request(1));
    await bystander.waitForResponses(1);
    assert.deepEqual(bystander.responses, [1]);
  });

  test('a negative frame size closes the connection', async (t) => {
    const dispatcher = new FakeDispatcher();
    const server = await startServer(t, dispatcher);
    const client = await TestClient.connect(t, server.port);
    client.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]));
    await within(client.closed, 2000, 'the server to close the connection');
    assert.deepEqual(dispatcher.calls, []);
  });

  test('a dispatcher rejection closes that connection after the earlier responses', async (t) => {
    const dispatcher = new FakeDispatcher();
    dispatcher.respond = (id) => {
      if (id === 2) throw Object.assign(new Error('malformed'), { code: 'KSC_PROTOCOL_MALFORMED' });
      return [header(id)];
    };
    const server = await startServer(t, dispatcher);
    const client = await TestClient.connect(t, server.port);
    client.socket.write(Buffer.concat([request(0), request(1), request(2), request(3)]));
    await within(client.closed, 2000, 'the server to close the connection');
    assert.deepEqual(client.responses, [0, 1]);
  });

  test('in-flight requests per connection are capped: the server stops reading at the limit', async (t) => {
    const dispatcher = new FakeDispatcher();
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    dispatcher.respond = async (id) => {
      await released;
      return [header(id)];
    };
    const server = await startServer(t, dispatcher, { maxInflightPerConnection: 4 });
    const client = await TestClient.connect(t, server.port);
    client.socket.write(Buffer.concat(Array.from({ length: 20 }, (_, i) => request(i))));
    await until(() => dispatcher.calls.length === 4, '4 dispatched requests');
    await sleep(100);
    assert.equal(dispatcher.calls.length, 4);
    assert.deepEqual(server.stats(), { connections: 1, inFlightRequests: 4, pausedConnections: 1, writeBufferedBytes: 0, queuedRequestBytes: 0, budgetWaiting: 0 });
    release();
    await client.waitForResponses(20);
    assert.deepEqual(client.responses, Array.from({ length: 20 }, (_, i) => i));
    assert.equal(server.stats().pausedConnections, 0);
  });

  test('a client that does not read makes the server stop reading instead of buffering without bound', async (t) => {
    const dispatcher = new FakeDispatcher();
    const big = Buffer.alloc(512 * 1024, 7);
    dispatcher.respond = (id) => [header(id), big];
    const server = await startServer(t, dispatcher, { maxInflightPerConnection: 16 });
    const client = await TestClient.connect(t, server.port);
    client.socket.pause();
    const requests = 400; // 400 x 512 KiB = 200 MiB of responses if the server kept going
    client.socket.write(Buffer.concat(Array.from({ length: requests }, (_, i) => request(i))));
    await until(() => server.stats().pausedConnections === 1 && dispatcher.calls.length > 0, 'the server to pause');
    await sleep(300);
    const handled = dispatcher.calls.length;
    const stats = server.stats();
    assert.ok(handled < 64, `server dispatched ${handled} requests for a client that reads nothing`);
    assert.ok(stats.inFlightRequests <= 16, `in flight: ${stats.inFlightRequests}`);
    assert.ok(stats.writeBufferedBytes <= 17 * big.length, `buffered ${stats.writeBufferedBytes} bytes`);
    await sleep(200);
    assert.equal(dispatcher.calls.length, handled, 'the server kept dispatching while paused');
    client.socket.resume();
    await client.waitForResponses(requests, 10_000);
    assert.deepEqual(client.responses, Array.from({ length: requests }, (_, i) => i));
  });

  test('an idle connection is closed; one with a pending request is not', async (t) => {
    const dispatcher = new FakeDispatcher();
    dispatcher.respond = async (id) => {
      await sleep(400);
      return [header(id)];
    };
    const server = await startServer(t, dispatcher, { idleTimeoutMs: 150 });
    const idle = await TestClient.connect(t, server.port);
    const busy = await TestClient.connect(t, server.port);
    busy.socket.write(request(1));
    await within(idle.closed, 2000, 'the idle connection to close');
    await busy.waitForResponses(1);
    assert.deepEqual(busy.responses, [1]);
    await within(busy.closed, 2000, 'the now idle connection to close');
  });

  test('graceful close answers in-flight requests, then closes; the connection signal aborts', async (t) => {
    const dispatcher = new FakeDispatcher();
    dispatcher.respond = async (id) => {
      await sleep(150);
      return [header(id)];
    };
    const server = await startServer(t, dispatcher);
    const client = await TestClient.connect(t, server.port);
    client.socket.write(Buffer.concat([request(1), request(2), request(3)]));
    await until(() => dispatcher.calls.length === 3, 'three dispatched requests');
    const [context] = dispatcher.contexts;
    assert.equal(context?.signal.aborted, false);
    await within(server.close({ drainMs: 2000 }), 3000, 'close');
    await within(client.closed, 1000, 'the client to see the close');
    assert.deepEqual(client.responses, [1, 2, 3]);
    assert.equal(context?.signal.aborted, true);
  });

  test('graceful close gives up after drainMs', async (t) => {
    const dispatcher = new FakeDispatcher();
    dispatcher.respond = () => new Promise<never>(() => {});
    const server = await startServer(t, dispatcher);
    const client = await TestClient.connect(t, server.port);
    client.socket.write(request(1));
    await until(() => dispatcher.calls.length === 1, 'a dispatched request');
    const started = Date.now();
    await within(server.close({ drainMs: 100 }), 2000, 'close');
    assert.ok(Date.now() - started < 1000);
    await within(client.closed, 1000, 'the client to see the close');
    assert.deepEqual(client.responses, []);
  });

  test('a connection logs at debug on open and close, never per request', async (t) => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const dispatcher = new FakeDispatcher();
    const server = await startServer(t, dispatcher, { logger: createLogger({ level: 'debug', destination }) });
    const client = await TestClient.connect(t, server.port);
    client.socket.write(Buffer.concat(Array.from({ length: 20 }, (_, i) => request(i))));
    await client.waitForResponses(20);
    client.socket.end();
    await client.closed;
    await until(() => lines.some((l) => l['msg'] === 'connection closed'), 'the close log line');
    const connectionLines = lines.filter((l) => l['connectionId'] !== undefined);
    assert.deepEqual(connectionLines.map((l) => l['msg']), ['connection opened', 'connection closed']);
    assert.equal(connectionLines[1]?.['requests'], 20);
    assert.match(String(connectionLines[0]?.['remote']), /^127\.0\.0\.1:\d+$/);
  });
});

/** A dispatcher whose responses wait until released, one per releaseOne() in request order. */
function heldDispatcher(): { dispatcher: FakeDispatcher; releaseOne: () => void } {
  const dispatcher = new FakeDispatcher();
  const waiting: Array<() => void> = [];
  dispatcher.respond = async (id) => {
    await new Promise<void>((resolve) => waiting.push(resolve));
    return [header(id)];
  };
  return { dispatcher, releaseOne: () => waiting.shift()?.() };
}

describe('KafkaServer, plain listener reading into a shared buffer (direct-reads.ts)', () => {
  /** A frame whose body after the 6-byte request header is a pattern seeded by its correlation id. */
  function bigRequest(correlationId: number, padding: number): Buffer {
    const frame = request(correlationId, padding);
    for (let i = 10; i < frame.length; i++) frame[i] = (correlationId * 7 + i) & 0xff;
    return frame;
  }

  test('large frames over many reads, paused at the in-flight limit, then a half-close: every frame intact, all answered', async (t) => {
    const dispatcher = new FakeDispatcher();
    const received = new Map<number, Buffer>();
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    dispatcher.handle = async function handle(frame, connection) {
      const id = correlationOf(frame);
      // A copy: the test checks what the handler saw, not what the buffer holds later.
      received.set(id, Buffer.from(frame));
      return FakeDispatcher.prototype.handle.call(this, frame, connection).then(async (response) => {
        await released;
        return response;
      });
    };
    // 2 in flight: the connection pauses with most of the stream still to come, so later bytes go
    // through the backlog while frames are half-filled.
    const server = await startServer(t, dispatcher, { maxInflightPerConnection: 2, maxFrameBytes: 4 * 1024 * 1024 });
    const client = await TestClient.connect(t, server.port);
    // 300 KB (filled into one buffer) and 1.2 MB (joined from copies) frames, and small ones between.
    const sizes = [300_000, 10, 1_200_000, 300_000, 0, 70_000, 300_000, 5, 1_200_000, 65_530];
    const frames = sizes.map((padding, id) => bigRequest(id, padding));
    client.socket.end(Buffer.concat(frames));
    await until(() => dispatcher.calls.length === 2, 'the first two requests');
    await sleep(100);
    assert.equal(dispatcher.calls.length, 2);
    release();
    await client.waitForResponses(sizes.length, 10_000);
    assert.deepEqual(client.responses, sizes.map((_, id) => id));
    for (const [id, frame] of frames.entries()) assert.ok(received.get(id)?.equals(frame.subarray(4)), `frame ${id} arrived intact`);
    // Half-closed by the client: the server answers everything, then closes its side.
    await within(client.closed, 3_000, 'the server to close after answering');
  });

  test('a frame half-read when the request budget runs out is completed from the backlog intact', async (t) => {
    const { dispatcher, releaseOne } = heldDispatcher();
    const received = new Map<number, Buffer>();
    const handle = dispatcher.handle.bind(dispatcher);
    dispatcher.handle = (frame, connection) => {
      received.set(correlationOf(frame), Buffer.from(frame));
      return handle(frame, connection);
    };
    // The first two 300 KB frames are granted (the budget is not used up before the second, as in
    // Kafka's memory pool); the third is charged when its first bytes are already copied into its
    // buffer, waits with the rest arriving into the backlog, and is finished from there.
    const server = await startServer(t, dispatcher, { queuedMaxRequestBytes: 500_000 });
    const client = await TestClient.connect(t, server.port);
    const frames = [0, 1, 2, 3, 4].map((id) => bigRequest(id, 300_000));
    client.socket.write(Buffer.concat(frames));
    await until(() => dispatcher.calls.length === 2 && server.stats().budgetWaiting === 1, 'the third frame to wait for budget');
    for (let released = 0; released < frames.length; released++) {
      await until(() => dispatcher.calls.length > released, `request ${released}`);
      releaseOne();
    }
    await client.waitForResponses(frames.length, 10_000);
    for (const [id, frame] of frames.entries()) assert.ok(received.get(id)?.equals(frame.subarray(4)), `frame ${id} arrived intact`);
  });

  test('close() completes with direct-read connections open (the listener no longer counts them)', async (t) => {
    const server = await startServer(t, new FakeDispatcher());
    const client = await TestClient.connect(t, server.port);
    client.socket.write(request(1));
    await client.waitForResponses(1);
    await within(server.close({ drainMs: 500 }), 3_000, 'close()');
    await within(client.closed, 3_000, 'the client to see the close');
  });
});

describe('KafkaServer limits', () => {
  /** A dispatcher whose handlers finish only when the test says so, one by one. */
  test('queued.max.request.bytes: over budget, connections stop reading until handlers give bytes back', async (t) => {
    const { dispatcher, releaseOne } = heldDispatcher();
    const metrics = new KafscaleMetrics();
    const server = await startServer(t, dispatcher, { queuedMaxRequestBytes: 10_000, metrics });
    const clients = [await TestClient.connect(t, server.port), await TestClient.connect(t, server.port), await TestClient.connect(t, server.port)];
    // 6 KB each: the first fits, the second is granted while the budget is not yet used up (as in
    // Kafka's memory pool), the third must wait.
    for (const [i, client] of clients.entries()) {
      client.socket.write(request(i, 6_000));
      await until(() => dispatcher.calls.length === Math.min(i + 1, 2) && (i < 2 || server.stats().budgetWaiting === 1), `request ${i} dispatched or waiting`);
    }
    await sleep(100);
    assert.deepEqual(dispatcher.calls, [0, 1], 'the third request is not read while the budget is used up');
    assert.equal(server.stats().queuedRequestBytes, 2 * 6_006);
    assert.equal(server.stats().budgetWaiting, 1);
    assert.match(await metrics.registry.getSingleMetricAsString('kafscale_request_budget_waits_total'), / 1$/m);
    releaseOne();
    await clients[0]?.waitForResponses(1);
    await until(() => dispatcher.calls.length === 3, 'the waiting connection to be served');
    releaseOne();
    releaseOne();
    await clients[1]?.waitForResponses(1);
    await clients[2]?.waitForResponses(1);
    await until(() => server.stats().queuedRequestBytes === 0, 'every charge given back');
    assert.match(await metrics.registry.getSingleMetricAsString('kafscale_queued_request_bytes'), / 0$/m);
  });

  test('a frame larger than the whole budget is still served, alone', async (t) => {
    const dispatcher = new FakeDispatcher();
    const server = await startServer(t, dispatcher, { queuedMaxRequestBytes: 1024 });
    const client = await TestClient.connect(t, server.port);
    client.socket.write(Buffer.concat([request(1, 50_000), request(2, 50_000), request(3)]));
    await client.waitForResponses(3);
    assert.deepEqual(client.responses, [1, 2, 3]);
    await until(() => server.stats().queuedRequestBytes === 0, 'charges given back');
  });

  test('a connection that closes while waiting for budget gives its place and charge back', async (t) => {
    const { dispatcher, releaseOne } = heldDispatcher();
    const server = await startServer(t, dispatcher, { queuedMaxRequestBytes: 4_000 });
    const holder = await TestClient.connect(t, server.port);
    holder.socket.write(request(1, 5_000));
    await until(() => dispatcher.calls.length === 1, 'the first request');
    // Only the size prefix and part of the body: charged at the prefix, so it waits before its body is read.
    const quitter = await TestClient.connect(t, server.port);
    quitter.socket.write(request(2, 5_000).subarray(0, 1_000));
    await until(() => server.stats().budgetWaiting === 1, 'the second connection to wait');
    quitter.socket.destroy();
    await until(() => server.stats().connections === 1 && server.stats().budgetWaiting === 0, 'the waiter to be withdrawn');
    releaseOne();
    await holder.waitForResponses(1);
    await until(() => server.stats().queuedRequestBytes === 0, 'nothing left charged');
    const next = await TestClient.connect(t, server.port);
    next.socket.write(request(3, 5_000));
    await until(() => dispatcher.calls.length === 2, 'a later connection is served at once');
    releaseOne();
    await next.waitForResponses(1);
  });

  test('max.connections and max.connections.per.ip close connections over the limit on accept, with a metric', async (t) => {
    const metrics = new KafscaleMetrics();
    const server = await startServer(t, new FakeDispatcher(), { maxConnections: 3, maxConnectionsPerIp: 2, metrics });
    const a = await TestClient.connect(t, server.port);
    const b = await TestClient.connect(t, server.port);
    const refusedSameIp = await TestClient.connect(t, server.port);
    await within(refusedSameIp.closed, 2000, 'the third connection from 127.0.0.1 to be closed');
    // Another loopback address is another IP: accepted up to the total limit.
    const other = connect({ host: '127.0.0.1', port: server.port, localAddress: '127.0.0.2' });
    t.after(() => other.destroy());
    await once(other, 'connect');
    const otherClient = new TestClient(other);
    const refusedTotal = connect({ host: '127.0.0.1', port: server.port, localAddress: '127.0.0.3' });
    t.after(() => refusedTotal.destroy());
    refusedTotal.on('error', () => {});
    await within(once(refusedTotal, 'close'), 2000, 'the connection over max.connections to be closed');
    const rejected = await metrics.registry.getSingleMetricAsString('kafscale_connections_rejected_total');
    assert.match(rejected, /reason="max_connections_per_ip"\} 1/);
    assert.match(rejected, /reason="max_connections"\} 1/);
    for (const [i, client] of [a, b, otherClient].entries()) {
      client.socket.write(request(i));
      await client.waitForResponses(1);
    }
    // A closed connection frees its slot.
    a.socket.destroy();
    await until(() => server.stats().connections === 2, 'the slot to be freed');
    const again = await TestClient.connect(t, server.port);
    again.socket.write(request(9));
    await again.waitForResponses(1);
    assert.deepEqual(again.responses, [9]);
  });
});
