import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { murmur2, partitionForKey } from './murmur2.ts';

const require = createRequire(import.meta.url);

test('murmur2 matches the values in Apache Kafka\'s UtilsTest', () => {
  assert.equal(murmur2(Buffer.from('21')), -973932308);
  assert.equal(murmur2(Buffer.from('foobar')), -790332482);
  assert.equal(murmur2(Buffer.from('a-little-bit-long-string')), -985981536);
  assert.equal(murmur2(Buffer.from('a-little-bit-longer-string')), -1486304829);
  assert.equal(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8')), -58897971);
  assert.equal(murmur2(Buffer.from([97, 98, 99])), 479470107);
});

test('partitionForKey agrees with kafkajs\'s default partitioner hash for random keys', () => {
  const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;
  for (let i = 0; i < 200; i++) {
    const key = randomBytes(i % 37);
    assert.equal(murmur2(key), kafkajsMurmur2(key), `key ${key.toString('hex')}`);
    assert.equal(partitionForKey(key, 7), (kafkajsMurmur2(key) & 0x7fffffff) % 7);
  }
});
