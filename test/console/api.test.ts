/**
 * The console API against a real broker (embedded store): static files and their headers, every read
 * endpoint checked against what Kafka clients see (kcat produces, kafkajs admin reads offsets), the
 * actions visible to kcat/kafkajs, and the error cases of docs/console.md.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { kcat } from '../helpers/kcat.ts';
import { ConsoleClient, startConsoleBroker, type ConsoleBroker } from './api-harness.ts';

describe('console API (one broker)', { timeout: 120_000 }, () => {
  let broker: ConsoleBroker;
  let client: ConsoleClient;
  let kafka: Kafka;
  const produced: { partition: number; key: string; value: string }[] = [];
  let beforeProduceMs = 0;

  before(async () => {
    broker = await startConsoleBroker();
    client = new ConsoleClient(broker.base);
    kafka = new Kafka({ clientId: 'console-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const created = await client.call('POST', '/api/v1/topics', { body: { name: 'orders', partitions: 2, configs: { 'retention.ms': '3600000' } } });
    assert.equal(created.status, 201, created.text);
    beforeProduceMs = Date.now();
    const lines: string[] = [];
    for (let i = 0; i < 6; i++) {
      const value = JSON.stringify({ id: i, item: 'book' });
      produced.push({ partition: i % 2, key: `k${i}`, value });
      lines.push(`k${i}|${value}`);
    }
    for (const partition of [0, 1]) {
      const input = lines.filter((_, i) => i % 2 === partition).join('\n') + '\n';
      const result = await kcat(['-P', '-b', broker.bootstrap, '-t', 'orders', '-p', String(partition), '-K', '|'], input);
      assert.equal(result.code, 0, result.stderr);
    }
  });

  after(async () => {
    await broker?.close();
  });

  test('/ redirects to /ui/; the bundle is served with its content type, CSP and cache headers', async () => {
    const root = await client.get('/');
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/ui/');
    const index = await client.get('/ui/');
    assert.equal(index.status, 200, index.text);
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const js = await client.get('/ui/app.js');
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    const etag = js.headers.get('etag') ?? '';
    const again = await client.call('GET', '/ui/app.js', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal((await client.get('/ui/app.css')).headers.get('content-type'), 'text/css; charset=utf-8');
    // A client-side route gets the page; a missing file with an extension is 404.
    assert.equal((await client.get('/ui/topics/orders')).status, 200);
    assert.equal((await client.get('/ui/missing.js')).status, 404);
  });

  test('paths that try to leave the static directory are 404', async () => {
    // Sent as given (fetch would normalise the dots): ../../ from src/console/static is the repository root.
    for (const path of ['/ui/../../../package.json', '/ui/%2e%2e/%2e%2e/%2e%2e/package.json', '/ui/..%2f..%2f..%2fpackage.json', '/ui/%2e%2e%5c%2e%2e%5c%2e%2e%5cpackage.json', '/ui/.hidden', '/ui/static/%00.js', '/ui/../console-api.ts']) {
      const response = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request({ hostname: '127.0.0.1', port: broker.app.opsPort, path }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.ok(response.status === 404 || (response.status === 200 && response.text.includes('<html')), `${path}: ${response.status} ${response.text.slice(0, 80)}`);
      assert.ok(!response.text.includes('"name": "kafscale"') && !response.text.includes('ConsoleApi'), `${path} leaked a file outside the bundle`);
    }
  });

  test('session: unauthenticated console says so', async () => {
    const session = await client.get('/api/v1/session');
    assert.equal(session.status, 200);
    assert.equal(session.json.authRequired, false);
    assert.equal(session.json.user, null);
    assert.match(session.json.warning, /unauthenticated/);
  });

  test('overview matches the cluster', async () => {
    const overview = await client.get('/api/v1/overview');
    assert.equal(overview.status, 200, overview.text);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      assert.equal(overview.json.clusterId, cluster.clusterId);
      assert.deepEqual(overview.json.brokers.map((b: { id: number }) => b.id), cluster.brokers.map((b) => b.nodeId));
      assert.equal(overview.json.brokers[0].self, true);
      assert.equal(overview.json.brokers[0].port, broker.app.kafkaPort);
      assert.equal(overview.json.metadataStore.kind, 'embedded');
      assert.equal(overview.json.metadataStore.healthy, true);
      assert.equal(overview.json.objectStore.kind, 'fs');
      assert.equal(overview.json.objectStore.healthy, true);
      const topics = await admin.listTopics();
      assert.equal(overview.json.totals.topics, topics.length);
    } finally {
      await admin.disconnect();
    }
  });

  test('metrics history samples the broker counters into rates', async () => {
    const history = broker.app.console?.history;
    assert.ok(history);
    await history.sample();
    const result = await kcat(['-P', '-b', broker.bootstrap, '-t', 'orders', '-p', '0'], 'x'.repeat(1000) + '\n');
    assert.equal(result.code, 0, result.stderr);
    produced.push({ partition: 0, key: '', value: 'x'.repeat(1000) });
    await history.sample();
    const body = (await client.get('/api/v1/metrics/history')).json;
    assert.equal(body.stepMs, 10_000);
    const last = body.points.at(-1);
    assert.ok(last.bytesInPerSec > 0 && last.recordsInPerSec > 0, JSON.stringify(last));
  });

  test('topics list and detail agree with kafkajs', async () => {
    const list = await client.get('/api/v1/topics');
    assert.equal(list.status, 200);
    const orders = list.json.topics.find((t: { name: string }) => t.name === 'orders');
    assert.equal(orders.partitions, 2);
    assert.equal(orders.records, produced.length);
    assert.equal(orders.retentionMs, 3_600_000);
    assert.ok(orders.sizeBytes > 0);
    const detail = await client.get('/api/v1/topics/orders');
    assert.equal(detail.status, 200);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets('orders');
      for (const p of offsets) {
        const mine = detail.json.partitions.find((x: { partition: number }) => x.partition === p.partition);
        assert.equal(mine.highWatermark, Number(p.high));
        assert.equal(mine.logStartOffset, Number(p.low));
        assert.equal(mine.leader, broker.app.config.broker.id);
      }
    } finally {
      await admin.disconnect();
    }
    const retention = detail.json.configs.find((c: { name: string }) => c.name === 'retention.ms');
    assert.deepEqual(retention, { name: 'retention.ms', value: '3600000', isDefault: false, readOnly: false, sensitive: false });
    assert.equal(detail.json.configs.find((c: { name: string }) => c.name === 'segment.bytes').isDefault, true);
  });

  test('messages: by offset, by timestamp, latest, all partitions; JSON values readable as text', async () => {
    const byOffset = await client.get('/api/v1/topics/orders/messages?partition=1&from=offset&offset=1&limit=10');
    assert.equal(byOffset.status, 200, byOffset.text);
    const expected = produced.filter((p) => p.partition === 1).slice(1);
    assert.deepEqual(byOffset.json.messages.map((m: { key: { text: string }; value: { text: string } }) => [m.key.text, m.value.text]), expected.map((p) => [p.key, p.value]));
    assert.equal(byOffset.json.messages[0].offset, 1);
    assert.equal(JSON.parse(byOffset.json.messages[0].value.text).item, 'book');
    assert.equal(Buffer.from(byOffset.json.messages[0].value.base64, 'base64').toString(), expected[0]?.value);
    const byTime = await client.get(`/api/v1/topics/orders/messages?partition=0&from=timestamp&timestamp=${beforeProduceMs}`);
    assert.equal(byTime.json.messages[0].offset, 0);
    assert.ok(byTime.json.messages[0].timestamp >= beforeProduceMs);
    const future = await client.get(`/api/v1/topics/orders/messages?partition=0&from=timestamp&timestamp=${Date.now() + 3_600_000}`);
    assert.deepEqual(future.json.messages, []);
    const latest = await client.get('/api/v1/topics/orders/messages?partition=0&from=latest&limit=1');
    assert.equal(latest.json.messages.length, 1);
    assert.equal(latest.json.messages[0].value.text, 'x'.repeat(1000));
    const all = await client.get('/api/v1/topics/orders/messages?partition=all&from=earliest&limit=100');
    assert.equal(all.json.messages.length, produced.length);
    assert.equal(all.json.truncated, false);
    const limited = await client.get('/api/v1/topics/orders/messages?from=earliest&limit=2');
    assert.equal(limited.json.messages.length, 2);
  });

  test('produce a test message: visible to kcat with key and headers', async () => {
    const response = await client.call('POST', '/api/v1/topics/orders/messages', { body: { partition: 1, key: 'console-key', value: '{"hello":"world"}', headers: [{ key: 'source', value: 'console' }] } });
    assert.equal(response.status, 201, response.text);
    assert.equal(response.json.partition, 1);
    const read = await kcat(['-C', '-b', broker.bootstrap, '-t', 'orders', '-p', '1', '-o', String(response.json.offset), '-c', '1', '-e', '-f', '%k|%s|%h']);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout.trim(), 'console-key|{"hello":"world"}|source=console');
  });

  test('create topic, alter configs, add partitions, delete: each visible to kafkajs', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.equal((await client.call('POST', '/api/v1/topics', { body: { name: 'made-here', partitions: 1 } })).status, 201);
      assert.ok((await admin.listTopics()).includes('made-here'));
      const bad = await client.call('POST', '/api/v1/topics', { body: { name: 'bad name!', partitions: 1 } });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.code, 'INVALID_TOPIC_EXCEPTION');
      const exists = await client.call('POST', '/api/v1/topics', { body: { name: 'made-here', partitions: 1 } });
      assert.equal(exists.status, 409);
      assert.equal(exists.json.error.code, 'TOPIC_ALREADY_EXISTS');
      const badConfig = await client.call('PATCH', '/api/v1/topics/made-here/configs', { body: { set: { 'cleanup.policy': 'compact' } } });
      assert.equal(badConfig.status, 400);
      assert.equal(badConfig.json.error.code, 'INVALID_CONFIG');
      const altered = await client.call('PATCH', '/api/v1/topics/made-here/configs', { body: { set: { 'retention.ms': '60000' } } });
      assert.equal(altered.status, 200, altered.text);
      const described = await admin.describeConfigs({ resources: [{ type: 2, name: 'made-here', configNames: ['retention.ms'] }], includeSynonyms: false });
      assert.equal(described.resources[0]?.configEntries[0]?.configValue, '60000');
      const reverted = await client.call('PATCH', '/api/v1/topics/made-here/configs', { body: { delete: ['retention.ms'] } });
      assert.equal(reverted.json.configs.find((c: { name: string }) => c.name === 'retention.ms').isDefault, true);
      assert.equal((await client.call('POST', '/api/v1/topics/made-here/partitions', { body: { count: 3 } })).status, 200);
      const meta = await admin.fetchTopicMetadata({ topics: ['made-here'] });
      assert.equal(meta.topics[0]?.partitions.length, 3);
      const fewer = await client.call('POST', '/api/v1/topics/made-here/partitions', { body: { count: 2 } });
      assert.equal(fewer.status, 400);
      assert.equal(fewer.json.error.code, 'INVALID_PARTITIONS');
      const mismatch = await client.call('DELETE', '/api/v1/topics/made-here?confirm=made-her');
      assert.equal(mismatch.status, 400);
      assert.ok((await admin.listTopics()).includes('made-here'));
      assert.equal((await client.call('DELETE', '/api/v1/topics/made-here?confirm=made-here')).status, 204);
      assert.ok(!(await admin.listTopics()).includes('made-here'));
    } finally {
      await admin.disconnect();
    }
  });

  test('groups: lag and committed offsets as kafkajs sees them; reset refused while active, applied when empty', async () => {
    const consumer = kafka.consumer({ groupId: 'billing', sessionTimeout: 10_000 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    let seen = 0;
    await consumer.run({ eachMessage: async () => void seen++ });
    const deadline = Date.now() + 30_000;
    while (seen < produced.length + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await consumer.commitOffsets([{ topic: 'orders', partition: 0, offset: '1' }]);
    const list = await client.get('/api/v1/groups');
    const billing = list.json.groups.find((g: { groupId: string }) => g.groupId === 'billing');
    assert.equal(billing.state, 'Stable');
    assert.equal(billing.protocol, 'classic');
    assert.equal(billing.members, 1);
    const detail = await client.get('/api/v1/groups/billing');
    assert.equal(detail.status, 200, detail.text);
    assert.equal(detail.json.members.length, 1);
    assert.deepEqual(detail.json.members[0].assignments, [{ topic: 'orders', partitions: [0, 1] }]);
    const p0 = detail.json.offsets.find((o: { partition: number }) => o.partition === 0);
    assert.equal(p0.committedOffset, 1);
    assert.equal(p0.lag, p0.endOffset - 1);
    assert.equal(p0.memberId, detail.json.members[0].memberId);
    const active = await client.call('POST', '/api/v1/groups/billing/offsets', { body: { to: 'earliest', dryRun: false } });
    assert.equal(active.status, 409);
    assert.equal(active.json.error.code, 'NON_EMPTY_GROUP');
    const deleteActive = await client.call('DELETE', '/api/v1/groups/billing');
    assert.equal(deleteActive.status, 409);
    await consumer.disconnect();

    const admin = kafka.admin();
    await admin.connect();
    try {
      const preview = await client.call('POST', '/api/v1/groups/billing/offsets', { body: { topic: 'orders', to: 'offset', offset: 2, dryRun: true } });
      assert.equal(preview.status, 200, preview.text);
      assert.deepEqual(preview.json.offsets.map((o: { partition: number; target: number }) => [o.partition, o.target]), [[0, 2], [1, 2]]);
      const unchanged = await admin.fetchOffsets({ groupId: 'billing', topics: ['orders'] });
      assert.equal(unchanged[0]?.partitions.find((p) => p.partition === 0)?.offset, '1');
      const applied = await client.call('POST', '/api/v1/groups/billing/offsets', { body: { topic: 'orders', to: 'offset', offset: 2, dryRun: false } });
      assert.equal(applied.status, 200, applied.text);
      const after = await admin.fetchOffsets({ groupId: 'billing', topics: ['orders'] });
      assert.deepEqual(after[0]?.partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '2'], [1, '2']]);
    } finally {
      await admin.disconnect();
    }
    // The next consumer of the group starts where the reset put it.
    const next = kafka.consumer({ groupId: 'billing', sessionTimeout: 10_000 });
    await next.connect();
    await next.subscribe({ topic: 'orders' });
    const first = new Map<number, number>();
    await next.run({ eachMessage: async ({ partition, message }) => void (first.has(partition) || first.set(partition, Number(message.offset))) });
    const until = Date.now() + 30_000;
    while (first.size < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    await next.disconnect();
    assert.deepEqual([...first].sort(), [[0, 2], [1, 2]]);
    const deleted = await client.call('DELETE', '/api/v1/groups/billing');
    assert.equal(deleted.status, 204, deleted.text);
    assert.equal((await client.get('/api/v1/groups/billing')).status, 404);
  });

  test('error cases: unknown topic, bad JSON, missing CSRF header, oversize body, unknown path', async () => {
    const unknown = await client.get('/api/v1/topics/nope');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, 'UNKNOWN_TOPIC_OR_PARTITION');
    assert.equal((await client.get('/api/v1/topics/nope/messages')).status, 404);
    const badJson = await client.call('POST', '/api/v1/topics', { rawBody: '{"name":' });
    assert.equal(badJson.status, 400);
    assert.equal(badJson.json.error.code, 'KSC_CONSOLE_BAD_REQUEST');
    const noCsrf = await client.call('POST', '/api/v1/topics', { body: { name: 'x' }, csrf: false });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.json.error.code, 'KSC_CONSOLE_FORBIDDEN');
    const big = await client.call('POST', '/api/v1/topics/orders/messages', { body: { value: 'v'.repeat(2 * 1024 * 1024) } });
    assert.equal(big.status, 413);
    const tooBig = await client.call('POST', '/api/v1/topics/orders/messages', { body: { value: 'v'.repeat(1024 * 1024 + 1) } });
    assert.equal(tooBig.status, 413);
    assert.equal((await client.get('/api/v1/nothing')).status, 404);
    const badQuery = await client.get('/api/v1/topics/orders/messages?limit=5000');
    assert.equal(badQuery.status, 400);
  });
});
