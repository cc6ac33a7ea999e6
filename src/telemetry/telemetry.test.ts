import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { childLogger, createLogger, silentLogger } from './logger.ts';
import { KafscaleMetrics, apiKeyLabel } from './metrics.ts';
import { KafscaleError } from './kafscale-error.ts';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const text = () => chunks.join('');
  const lines = () =>
    text()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { stream, lines, text };
}

describe('logger', () => {
  test('writes JSON lines at the configured level with base fields', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.stream, base: { brokerId: 3 } });
    log.debug('hidden');
    log.info({ port: 9092 }, 'listening');
    const lines = out.lines();
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.['msg'], 'listening');
    assert.equal(lines[0]?.['port'], 9092);
    assert.equal(lines[0]?.['brokerId'], 3);
    assert.equal(lines[0]?.['level'], 30);
  });

  test('child loggers carry their component and bindings', () => {
    const out = capture();
    const log = childLogger(createLogger({ level: 'debug', destination: out.stream }), 'server', { connectionId: 7 });
    log.debug('open');
    assert.equal(out.lines()[0]?.['component'], 'server');
    assert.equal(out.lines()[0]?.['connectionId'], 7);
  });

  test('secrets are censored and errors keep their code and cause', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.stream });
    log.info({ config: { objectStore: { credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } }, metadataStore: { auth: { password: 'pw' } } } }, 'config');
    const err = new KafscaleError('KSC_META_UNAVAILABLE', 'etcd is down', { cause: new Error('ECONNREFUSED') });
    log.error({ err }, 'failed');
    const text = out.text();
    assert.doesNotMatch(text, /"SK"|"pw"/);
    assert.match(text, /"accessKeyId":"AK"/);
    const errLine = out.lines()[1]?.['err'] as Record<string, unknown>;
    assert.equal(errLine['code'], 'KSC_META_UNAVAILABLE');
    assert.match(String(errLine['message']), /etcd is down/);
    assert.match(JSON.stringify(errLine), /ECONNREFUSED/);
  });

  test('pretty output is human-readable, not JSON', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.stream, pretty: true });
    log.info('hello pretty');
    assert.match(out.text(), /INFO.*hello pretty/);
    assert.throws(() => JSON.parse(out.text()));
  });

  test('silentLogger logs nothing', () => {
    assert.equal(silentLogger().isLevelEnabled('fatal'), false);
  });
});

describe('metrics', () => {
  test('core metrics render with kafscale_ names and default labels', async () => {
    const metrics = new KafscaleMetrics({ defaultLabels: { broker_id: '1' } });
    metrics.requestsTotal.inc({ api_key: apiKeyLabel(18) });
    metrics.requestDurationSeconds.observe({ api_key: '18' }, 0.002);
    metrics.connectionsActive.inc();
    const { body, contentType } = await metrics.render();
    assert.match(contentType, /text\/plain/);
    assert.match(body, /kafscale_requests_total\{api_key="18",broker_id="1"\} 1/);
    assert.match(body, /kafscale_request_duration_seconds_bucket\{le="0.0025",broker_id="1",api_key="18"\} 1/);
    assert.match(body, /kafscale_connections_active\{broker_id="1"\} 1/);
    for (const line of body.split('\n').filter((l) => l.startsWith('# TYPE'))) {
      assert.match(line, /^# TYPE kafscale_/);
    }
  });

  test('separate instances do not share series; process metrics are opt-in', async () => {
    const a = new KafscaleMetrics();
    const b = new KafscaleMetrics({ collectProcessMetrics: true });
    a.networkReceivedBytesTotal.inc(10);
    assert.match((await b.render()).body, /kafscale_network_received_bytes_total 0/);
    assert.match((await b.render()).body, /kafscale_nodejs_eventloop_lag_seconds/);
    assert.doesNotMatch((await a.render()).body, /eventloop/);
  });

  test('apiKeyLabel bounds label values', () => {
    assert.equal(apiKeyLabel(0), '0');
    assert.equal(apiKeyLabel(-1), 'invalid');
    assert.equal(apiKeyLabel(32767), 'invalid');
  });
});
