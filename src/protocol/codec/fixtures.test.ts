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
