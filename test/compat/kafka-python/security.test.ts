/**
 * kafka-python 2.0 (Debian python3-kafka) and confluent-kafka 1.7 / librdkafka 2.0 (Debian
 * python3-confluent-kafka) over SSL, SASL_PLAINTEXT and SASL_SSL: produce and consume with
 * SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN; a wrong password is refused with each client's error.
 * kafka-python 2.0 sends SaslHandshake v0 and then raw SASL tokens without Kafka headers (pre-KIP-152
 * framing), so this also covers that path; librdkafka uses v1 + SaslAuthenticate.
 * Known behaviour: kafka-python 2.0 reports a refused v0 login as a connection error (Kafka closes the
 * connection without a response in that framing) — NoBrokersAvailable or KafkaConnectionError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { alterUser, useSecureBroker, type SecureListener } from '../../helpers/security.ts';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'security.py');
const missing = (module: string): string | false =>
  spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0 ? false : `${PYTHON} cannot import ${module}`;

const fixture = useSecureBroker();

type Client = 'kafka-python' | 'confluent';
type Listener = SecureListener;

async function scenario(client: Client, listener: Listener, mechanism: string, password = fixture.secure.password, user = fixture.secure.user): Promise<{ values?: string[]; error?: string; message?: string }> {
  const topic = `py-sec-${randomUUID().slice(0, 8)}`;
  await fixture.secure.createTopic(topic);
  const { stdout } = await run(PYTHON, [SCRIPT, client, listener, fixture.secure.bootstrap(listener), fixture.secure.pki.caFile, mechanism, user, topic], {
    timeout: 90_000,
    env: { ...process.env, KAFSCALE_TEST_PASSWORD: password },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { values?: string[]; error?: string };
}

const EXPECTED = Array.from({ length: 10 }, (_, i) => `v${i}`);
const CASES = [
  ['SSL', '-'],
  ['SASL_PLAINTEXT', 'SCRAM-SHA-512'],
  ['SASL_SSL', 'SCRAM-SHA-512'],
  ['SASL_SSL', 'PLAIN'],
] as const;

for (const client of ['kafka-python', 'confluent'] as const) {
  const skip = missing(client === 'confluent' ? 'confluent_kafka' : 'kafka');
  for (const [listener, mechanism] of CASES) {
    test(`${client}: produce and consume over ${listener}${mechanism === '-' ? '' : ` with ${mechanism}`}`, { skip }, async () => {
      const result = await scenario(client, listener, mechanism);
      assert.deepEqual(result, { values: EXPECTED });
    });
  }
  test(`${client}: a user deleted while the broker runs cannot connect any more`, { skip }, async () => {
    const user = `${client}-gone`;
    await alterUser(fixture.secure, user, 'gone-pw');
    assert.deepEqual(await scenario(client, 'SASL_SSL', 'SCRAM-SHA-512', 'gone-pw', user), { values: EXPECTED });
    await alterUser(fixture.secure, user, null);
    const refused = await scenario(client, 'SASL_SSL', 'SCRAM-SHA-512', 'gone-pw', user);
    assert.equal(refused.values, undefined);
    assert.match(refused.error ?? '', client === 'confluent' ? /^_AUTHENTICATION$/ : /NoBrokersAvailable|KafkaConnectionError|AuthenticationFailedError/, JSON.stringify(refused));
  });
  test(`${client}: a wrong password is refused with the client's authentication error`, { skip }, async () => {
    for (const mechanism of ['SCRAM-SHA-512', 'PLAIN']) {
      const result = await scenario(client, 'SASL_SSL', mechanism, 'wrong-password');
      assert.equal(result.values, undefined, `${mechanism}: must not produce`);
      if (client === 'confluent') assert.equal(result.error, '_AUTHENTICATION', `${mechanism}: ${JSON.stringify(result)}`);
      else assert.match(result.error ?? '', /NoBrokersAvailable|KafkaConnectionError|AuthenticationFailedError/, `${mechanism}: ${JSON.stringify(result)}`);
    }
  });
}
