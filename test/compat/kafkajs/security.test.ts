/**
 * kafkajs over SSL, SASL_PLAINTEXT and SASL_SSL (SCRAM-SHA-512, SCRAM via SaslHandshake v1 +
 * SaslAuthenticate, and PLAIN): produce and consume; a wrong password is refused with
 * KafkaJSSASLAuthenticationError; a user deleted while the broker runs cannot connect again.
 * Known to fail: none known.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import { SCRAM_MECHANISM_IDS } from '../../../src/services/security/scram.ts';
import { scramLogin, useSecureBroker, type SecureListener } from '../../helpers/security.ts';
import { WireClient } from '../../helpers/wire-client.ts';

const fixture = useSecureBroker();

type Listener = SecureListener;

function client(listener: Listener, mechanism: 'scram-sha-512' | 'plain' = 'scram-sha-512', password = fixture.secure.password, user = fixture.secure.user): kafkajs.Kafka {
  const tls = listener === 'SSL' || listener === 'SASL_SSL';
  const sasl = listener !== 'SSL';
  return new kafkajs.Kafka({
    clientId: 'kafscale-kafkajs-security',
    brokers: [fixture.secure.bootstrap(listener)],
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 1 },
    connectionTimeout: 5_000,
    ...(tls ? { ssl: { ca: [fixture.secure.pki.ca] } } : {}),
    ...(sasl ? { sasl: mechanism === 'plain' ? { mechanism: 'plain', username: user, password } : { mechanism: 'scram-sha-512', username: user, password } } : {}),
  });
}

async function roundTrip(kafka: kafkajs.Kafka, topic: string): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
  } finally {
    await producer.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `g-${topic}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const values: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${values.length} of 10`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value?.toString() ?? '');
          if (values.length === 10) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    assert.deepEqual(values, Array.from({ length: 10 }, (_, i) => `v${i}`));
  } finally {
    await consumer.disconnect();
  }
}

for (const [listener, mechanism] of [['SSL', 'scram-sha-512'], ['SASL_PLAINTEXT', 'scram-sha-512'], ['SASL_SSL', 'scram-sha-512'], ['SASL_SSL', 'plain']] as const) {
  test(`kafkajs: produce and consume over ${listener}${listener === 'SSL' ? '' : ` with ${mechanism}`}`, async () => {
    const topic = `kafkajs-sec-${randomUUID().slice(0, 8)}`;
    await fixture.secure.createTopic(topic);
    await roundTrip(client(listener, mechanism), topic);
  });
}

test('kafkajs: a wrong password is refused with KafkaJSSASLAuthenticationError', async () => {
  for (const mechanism of ['scram-sha-512', 'plain'] as const) {
    const admin = client('SASL_SSL', mechanism, 'wrong-password').admin();
    await assert.rejects(admin.connect(), (error: Error) => {
      assert.equal(error.name, 'KafkaJSSASLAuthenticationError', `${mechanism}: ${error.name}: ${error.message}`);
      return true;
    });
    await admin.disconnect();
  }
});

test('kafkajs: a user deleted while the broker runs cannot open new connections', async () => {
  // Create 'temp' through the broker (AlterUserScramCredentials) as alice, check kafkajs logs in, delete it.
  const wire = await WireClient.connect('127.0.0.1', fixture.secure.broker.listenerPorts['SASL_PLAINTEXT'] as number);
  try {
    assert.equal((await scramLogin(wire, 'SCRAM-SHA-512', fixture.secure.user, fixture.secure.password)).errorCode, 0);
    const admin = client('SASL_SSL').admin();
    await admin.connect();
    await admin.disconnect();
    const { saltPassword } = await import('../../../src/services/security/scram.ts');
    const salt = Buffer.from('temp-salt-0123');
    const created = await wire.send(51, 0, { deletions: [], upsertions: [{ name: 'temp', mechanism: SCRAM_MECHANISM_IDS['SCRAM-SHA-512'], iterations: 4096, salt, saltedPassword: saltPassword('SCRAM-SHA-512', 'temp-pw', salt, 4096) }] });
    assert.equal(created.results[0]?.errorCode, 0);
    const temp = client('SASL_SSL', 'scram-sha-512', 'temp-pw', 'temp').admin();
    await temp.connect();
    await temp.disconnect();
    const deleted = await wire.send(51, 0, { deletions: [{ name: 'temp', mechanism: SCRAM_MECHANISM_IDS['SCRAM-SHA-512'] }], upsertions: [] });
    assert.equal(deleted.results[0]?.errorCode, 0);
    const again = client('SASL_SSL', 'scram-sha-512', 'temp-pw', 'temp').admin();
    await assert.rejects(again.connect(), { name: 'KafkaJSSASLAuthenticationError' });
    await again.disconnect();
  } finally {
    wire.close();
  }
});
