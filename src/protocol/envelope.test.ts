import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from './api-keys.ts';
import { decodeRequest, decodeRequestHeader, decodeResponse, encodeRequest, encodeResponse } from './codec/index.ts';
import { readEnvelopeRequest, unwrapResponse, wrapRequest, wrapResponse } from './envelope.ts';

const join = (chunks: readonly Buffer[]): Buffer => Buffer.concat(chunks);

test('wrapRequest frames an inner request the way the generated codec reads an Envelope request', () => {
  const inner = join(encodeRequest(ApiKey.Metadata, 12, 77, 'client-a', { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }));
  const big = Buffer.alloc(5000, 7);
  const frame = join(wrapRequest([inner, big], 9, 'kafscale-proxy', { principal: 'User:alice', clientHost: '10.1.2.3' }));
  const header = decodeRequestHeader(frame);
  assert.deepEqual([header.apiKey, header.apiVersion, header.correlationId, header.clientId], [ApiKey.Envelope, 0, 9, 'kafscale-proxy']);
  const body = decodeRequest(ApiKey.Envelope, 0, frame, header.bodyOffset);
  assert.deepEqual(body.requestData, Buffer.concat([inner, big]));
  assert.equal(body.requestPrincipal?.toString('utf8'), 'User:alice');
  assert.deepEqual([...body.clientHostAddress], [10, 1, 2, 3]);
  const read = readEnvelopeRequest(frame, header.bodyOffset);
  assert.deepEqual(read, { requestData: Buffer.concat([inner, big]), principal: 'User:alice', clientHost: '10.1.2.3' });
});

test('client hosts: IPv4-mapped IPv6 becomes IPv4, IPv6 keeps 16 bytes, a non-address becomes 0.0.0.0', () => {
  const hostOf = (clientHost: string): string => {
    const frame = join(wrapRequest([Buffer.from([1])], 1, null, { principal: 'User:a', clientHost }));
    return readEnvelopeRequest(frame, decodeRequestHeader(frame).bodyOffset).clientHost;
  };
  assert.equal(hostOf('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(hostOf('fd00::1:2'), 'fd00:0:0:0:0:0:1:2');
  assert.equal(hostOf('not-an-address'), '0.0.0.0');
});

test('wrapResponse is what the codec decodes as an Envelope response, and unwrapResponse returns the inner frame', () => {
  const inner = join(encodeResponse(ApiKey.ApiVersions, 3, 77, { errorCode: 0, apiKeys: [], throttleTimeMs: 0, supportedFeatures: [], finalizedFeaturesEpoch: -1n, finalizedFeatures: [], zkMigrationReady: false }));
  const frame = join(wrapResponse(5, [inner], 0));
  const decoded = decodeResponse(ApiKey.Envelope, 0, frame);
  assert.equal(decoded.correlationId, 5);
  assert.deepEqual(decoded.body.responseData, inner);
  assert.deepEqual(unwrapResponse(frame), { errorCode: 0, inner });
  const refused = join(wrapResponse(6, null, 31));
  assert.deepEqual(decodeResponse(ApiKey.Envelope, 0, refused).body, { responseData: null, errorCode: 31 });
  assert.deepEqual(unwrapResponse(refused), { errorCode: 31, inner: null });
  const viaCodec = join(encodeResponse(ApiKey.Envelope, 0, 8, { responseData: inner, errorCode: 0 }));
  assert.deepEqual(unwrapResponse(viaCodec), { errorCode: 0, inner });
});

test('a truncated Envelope request is a protocol error, not a crash', () => {
  const frame = join(wrapRequest([Buffer.alloc(100, 1)], 1, null, { principal: 'User:a', clientHost: '1.2.3.4' }));
  const offset = decodeRequestHeader(frame).bodyOffset;
  assert.throws(() => readEnvelopeRequest(frame.subarray(0, frame.length - 10), offset), /KSC_PROTOCOL|bytes|beyond|truncated|short/i);
});
