/**
 * Golden frames captured from real clients (see test/fixtures/protocol/README.md): each must decode
 * and re-encode to the identical bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeRequest, decodeRequestHeader, encodeRequest, type RequestByKey } from './index.ts';

interface Fixture {
  client: string;
  apiKey: number;
  apiVersion: number;
  kind: 'request';
  hex: string;
}

const dir = resolve(import.meta.dirname, '../../../test/fixtures/protocol');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('fixtures from every client are present', () => {
  const clients = new Set(files.map((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture).client));
  for (const client of ['kafkajs', 'platformatic', 'kcat']) assert.ok(clients.has(client), `fixtures from ${client}`);
});

for (const file of files) {
  test(`${file} decodes and re-encodes to identical bytes`, () => {
    const fixture = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Fixture;
    const frame = Buffer.from(fixture.hex, 'hex');
    const header = decodeRequestHeader(frame);
    assert.equal(header.apiKey, fixture.apiKey);
    assert.equal(header.apiVersion, fixture.apiVersion);
    assert.ok(header.bodyOffset > 0);
    assert.match(header.clientId ?? '', /fixtures|kafka-python/);
    const apiKey = fixture.apiKey as keyof RequestByKey;
    const body = decodeRequest(apiKey, fixture.apiVersion, frame, header.bodyOffset);
    const again = Buffer.concat(encodeRequest(apiKey, fixture.apiVersion, header.correlationId, header.clientId, body));
    assert.equal(again.toString('hex'), fixture.hex);
  });
}

test('kcat ApiVersions v3 carries librdkafka software name and version', () => {
  const fixture = JSON.parse(readFileSync(join(dir, 'kcat-api-versions-v3-request.json'), 'utf8')) as Fixture;
  const frame = Buffer.from(fixture.hex, 'hex');
  const body = decodeRequest(18, 3, frame, decodeRequestHeader(frame).bodyOffset);
  assert.equal(body.clientSoftwareName, 'librdkafka');
  assert.match(body.clientSoftwareVersion, /^\d+\.\d+\.\d+/);
});

test('captured Produce requests carry magic v2 record batches as views of the frame', () => {
  const produce = files.filter((f) => f.includes('-produce-'));
  assert.ok(produce.length >= 3, 'Produce fixtures from kafkajs, platformatic and kcat');
  for (const file of produce) {
    const fixture = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Fixture;
    const frame = Buffer.from(fixture.hex, 'hex');
    const body = decodeRequest(0, fixture.apiVersion, frame, decodeRequestHeader(frame).bodyOffset);
    const records = body.topicData[0]!.partitionData[0]!.records!;
    assert.equal(body.topicData[0]!.name, 'fixtures');
    assert.equal(records.buffer, frame.buffer, `${file}: records are not copied`);
    assert.equal(records.readInt32BE(8), records.length - 12, `${file}: batchLength covers the batch`);
    assert.equal(records[16], 2, `${file}: magic byte`);
  }
});
