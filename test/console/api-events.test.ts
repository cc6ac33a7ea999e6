/**
 * The console's server-sent events against a real broker: the first events on connect, a `topics` event
 * when a topic is created (through Kafka, by kafkajs), the stream limit, and broker shutdown ending every
 * stream promptly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { startConsoleBroker, type ConsoleBroker } from './api-harness.ts';

interface ServerEvent {
  readonly event: string;
  readonly data: string;
}

/** Reads an event stream; `next(name)` resolves with the next event of that name. */
class EventReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = '';
  ended = false;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  readonly #events: ServerEvent[] = [];

  /** The first not yet taken event of that name (events of other names stay queued). */
  async next(name: string, timeoutMs = 10_000): Promise<ServerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let end: number;
      while ((end = this.#buffer.indexOf('\n\n')) >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) this.#events.push({ event, data });
      }
      const index = this.#events.findIndex((e) => e.event === name);
      if (index >= 0) return this.#events.splice(index, 1)[0] as ServerEvent;
      if (Date.now() > deadline) throw new Error(`no '${name}' event within ${timeoutMs} ms`);
      const chunk = await this.#reader.read();
      if (chunk.done) {
        this.ended = true;
        throw new Error(`the stream ended before a '${name}' event`);
      }
      this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }

  /** Resolves when the server ends the stream. */
  async closed(): Promise<void> {
    for (;;) {
      const chunk = await this.#reader.read();
      if (chunk.done) {
        this.ended = true;
        return;
      }
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

async function openStream(base: string): Promise<{ status: number; reader: EventReader | null; contentType: string | null }> {
  const response = await fetch(`${base}/api/v1/events`);
  if (response.status !== 200 || response.body === null) {
    await response.text();
    return { status: response.status, reader: null, contentType: response.headers.get('content-type') };
  }
  return { status: 200, reader: new EventReader(response.body), contentType: response.headers.get('content-type') };
}

describe('console live events', { timeout: 120_000 }, () => {
  let broker: ConsoleBroker;

  before(async () => {
    broker = await startConsoleBroker();
  });

  after(async () => {
    await broker?.close();
  });

  test('overview, topics and groups on connect; a topics event after kafkajs creates a topic', async () => {
    const stream = await openStream(broker.base);
    assert.equal(stream.status, 200);
    assert.match(stream.contentType ?? '', /^text\/event-stream/);
    const reader = stream.reader as EventReader;
    const overview = JSON.parse((await reader.next('overview')).data);
    assert.equal(overview.brokers.length, 1);
    assert.equal(overview.brokers[0].port, broker.app.kafkaPort);
    assert.ok(Array.isArray(JSON.parse((await reader.next('groups')).data).groups));
    const first = JSON.parse((await reader.next('topics')).data);
    assert.deepEqual(first.names, []);
    const kafka = new kafkajs.Kafka({ brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'live-topic', numPartitions: 1 }] });
    } finally {
      await admin.disconnect();
    }
    const changed = JSON.parse((await reader.next('topics')).data);
    assert.deepEqual(changed.names, ['live-topic']);
    await reader.cancel();
  });

  test('at most 32 streams; closed ones free their slot', async () => {
    const streams = [];
    for (let i = 0; i < 32; i++) {
      const s = await openStream(broker.base);
      assert.equal(s.status, 200, `stream ${i}`);
      streams.push(s.reader as EventReader);
    }
    const refused = await openStream(broker.base);
    assert.equal(refused.status, 503);
    await streams.pop()?.cancel();
    const deadline = Date.now() + 5_000;
    let reopened = await openStream(broker.base);
    while (reopened.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      reopened = await openStream(broker.base);
    }
    assert.equal(reopened.status, 200);
    streams.push(reopened.reader as EventReader);
    for (const s of streams) await s.cancel();
    const until = Date.now() + 5_000;
    while ((broker.app.console?.events.clients ?? 0) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.equal(broker.app.console?.events.clients, 0);
  });

  test('broker shutdown ends open streams and the ops listener closes promptly', async () => {
    const readers: EventReader[] = [];
    for (let i = 0; i < 3; i++) readers.push((await openStream(broker.base)).reader as EventReader);
    const ended = Promise.all(readers.map((r) => r.closed().catch(() => undefined)));
    const started = Date.now();
    await broker.close();
    const closeMs = Date.now() - started;
    await ended;
    assert.ok(readers.every((r) => r.ended));
    assert.ok(closeMs < 5_000, `the broker took ${closeMs} ms to close with 3 event streams open`);
    await assert.rejects(fetch(`${broker.base}/api/v1/session`));
  });
});
