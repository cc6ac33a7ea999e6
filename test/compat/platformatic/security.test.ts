/**
 * @platformatic/kafka over SSL, SASL_PLAINTEXT and SASL_SSL (SCRAM-SHA-512 and PLAIN through
 * SaslHandshake v1 + SaslAuthenticate): produce and consume with a group consumer; a wrong password
 * fails the client's call with an authentication error in its cause chain.
 * Known to fail: none known.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Admin, Consumer, ProduceAcks, Producer, type SASLMechanismValue } from '@platformatic/kafka';
import { alterUser, useSecureBroker, type SecureListener } from '../../helpers/security.ts';

const fixture = useSecureBroker();

type Listener = SecureListener;

function options(listener: Listener, mechanism: SASLMechanismValue = 'SCRAM-SHA-512', password = fixture.secure.password, username = fixture.secure.user) {
  const tls = listener === 'SSL' || listener === 'SASL_SSL';
  return {
    clientId: 'kafscale-platformatic-security',
    bootstrapBrokers: [fixture.secure.bootstrap(listener)],
    retries: 1,
    timeout: 10_000,
    ...(tls ? { tls: { ca: fixture.secure.pki.ca } } : {}),
    ...(listener === 'SSL' ? {} : { sasl: { mechanism, username, password } }),
  };
}

for (const [listener, mechanism] of [['SSL', 'SCRAM-SHA-512'], ['SASL_PLAINTEXT', 'SCRAM-SHA-512'], ['SASL_SSL', 'SCRAM-SHA-512'], ['SASL_SSL', 'PLAIN']] as const) {
  test(`platformatic: produce and consume over ${listener}${listener === 'SSL' ? '' : ` with ${mechanism}`}`, async (t) => {
    const topic = `platformatic-sec-${randomUUID().slice(0, 8)}`;
    await fixture.secure.createTopic(topic);
    const producer = new Producer({ ...options(listener, mechanism), acks: ProduceAcks.ALL });
    try {
      await producer.send({ messages: Array.from({ length: 10 }, (_, i) => ({ topic, key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) })) });
    } finally {
      await producer.close();
    }
    const consumer = new Consumer({ ...options(listener, mechanism), groupId: `g-${topic}` });
    t.after(() => consumer.close(true));
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    const values: string[] = [];
    const timer = setTimeout(() => stream.destroy(new Error(`consumed ${values.length} of 10`)), 30_000);
    try {
      for await (const message of stream) {
        values.push(message.value.toString());
        if (values.length === 10) break;
      }
    } finally {
      clearTimeout(timer);
    }
    assert.deepEqual(values, Array.from({ length: 10 }, (_, i) => `v${i}`));
  });
}

/** The error and its causes / nested errors, flattened. */
function chain(error: unknown, depth = 0): Error[] {
  if (!(error instanceof Error) || depth > 6) return [];
  const nested = (error as { errors?: unknown[] }).errors ?? [];
  return [error, ...chain(error.cause, depth + 1), ...nested.flatMap((e) => chain(e, depth + 1))];
}

test('platformatic: a wrong password is refused with an authentication error', async () => {
  for (const mechanism of ['SCRAM-SHA-512', 'PLAIN'] as const) {
    const admin = new Admin(options('SASL_SSL', mechanism, 'wrong-password'));
    try {
      await assert.rejects(admin.listTopics(), (error: unknown) => {
        const all = chain(error);
        assert.ok(
          all.some((e) => e.name === 'AuthenticationError' || /SASL_AUTHENTICATION_FAILED|Authentication failed/i.test(e.message)),
          `${mechanism}: ${all.map((e) => `${e.name}: ${e.message}`).join(' <- ')}`,
        );
        return true;
      });
    } finally {
      await admin.close();
    }
  }
});

test('platformatic: a user deleted while the broker runs cannot connect any more', async () => {
  await alterUser(fixture.secure, 'plt-gone', 'gone-pw');
  const ok = new Admin(options('SASL_SSL', 'SCRAM-SHA-512', 'gone-pw', 'plt-gone'));
  try {
    await ok.listTopics();
  } finally {
    await ok.close();
  }
  await alterUser(fixture.secure, 'plt-gone', null);
  const refused = new Admin(options('SASL_SSL', 'SCRAM-SHA-512', 'gone-pw', 'plt-gone'));
  try {
    await assert.rejects(refused.listTopics(), (error: unknown) => chain(error).some((e) => e.name === 'AuthenticationError' || /Authentication failed/i.test(e.message)));
  } finally {
    await refused.close();
  }
});
