/**
 * kcat (librdkafka 2.0) over SSL, SASL_PLAINTEXT and SASL_SSL with SCRAM-SHA-512, SCRAM-SHA-256 and
 * PLAIN: `kcat -P` then `kcat -C -e` read back the same values; a wrong password fails with
 * librdkafka's "SASL authentication error". Credentials go through a kcat config file (-F), never argv.
 * Known to fail: none known. Skips when the kcat binary is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kcat, kcatMissing } from '../../helpers/kcat.ts';
import { alterUser, useSecureBroker, type SecureBroker, type SecureListener } from '../../helpers/security.ts';

const fixture = useSecureBroker({ enabled: kcatMissing === false });

type Listener = SecureListener;

/** A kcat/librdkafka properties file for the listener; returns its path. */
function configFile(s: SecureBroker, listener: Listener, mechanism: string, password: string, user = s.user): string {
  const lines = [`security.protocol=${listener.toLowerCase()}`];
  if (listener !== 'SASL_PLAINTEXT') lines.push(`ssl.ca.location=${s.pki.caFile}`);
  if (listener !== 'SSL') lines.push(`sasl.mechanisms=${mechanism}`, `sasl.username=${user}`, `sasl.password=${password}`);
  const file = join(s.dir, `kcat-${randomUUID().slice(0, 8)}.properties`);
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

const CASES = [['SSL', '-'], ['SASL_PLAINTEXT', 'SCRAM-SHA-512'], ['SASL_SSL', 'SCRAM-SHA-512'], ['SASL_SSL', 'SCRAM-SHA-256'], ['SASL_SSL', 'PLAIN']] as const;

for (const [listener, mechanism] of CASES) {
  test(`kcat: produce and consume over ${listener}${mechanism === '-' ? '' : ` with ${mechanism}`}`, { skip: kcatMissing }, async () => {
    const s = fixture.secure;
    let password = s.password;
    let user = s.user;
    if (mechanism === 'SCRAM-SHA-256') {
      user = 'kcat256';
      password = 'kcat-256-pw';
      // The embedded store admits one process, so a user added while the broker runs goes through it.
      await createUserThroughBroker(s, user, password);
    }
    const topic = `kcat-sec-${randomUUID().slice(0, 8)}`;
    await s.createTopic(topic);
    const config = configFile(s, listener, mechanism, password, user);
    const values = Array.from({ length: 10 }, (_, i) => `v${i}`);
    const produced = await kcat(['-F', config, '-b', s.bootstrap(listener), '-P', '-t', topic, '-p', '0', '-X', 'acks=all'], `${values.join('\n')}\n`);
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await kcat(['-F', config, '-b', s.bootstrap(listener), '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q']);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n'), values);
  });
}

test('kcat: a wrong password fails with a SASL authentication error', { skip: kcatMissing }, async () => {
  const s = fixture.secure;
  for (const mechanism of ['SCRAM-SHA-512', 'PLAIN']) {
    const config = configFile(s, 'SASL_SSL', mechanism, 'wrong-password');
    const result = await kcat(['-F', config, '-b', s.bootstrap('SASL_SSL'), '-L', '-m', '5']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /SASL authentication error: Authentication failed/, mechanism);
  }
});

async function createUserThroughBroker(s: SecureBroker, user: string, password: string): Promise<void> {
  const { WireClient } = await import('../../helpers/wire-client.ts');
  const { saltPassword } = await import('../../../src/services/security/scram.ts');
  const client = await WireClient.connect('127.0.0.1', s.broker.port);
  try {
    const salt = Buffer.from(`${user}-salt`);
    const result = await client.send(51, 0, { deletions: [], upsertions: [{ name: user, mechanism: 1, iterations: 4096, salt, saltedPassword: saltPassword('SCRAM-SHA-256', password, salt, 4096) }] });
    assert.equal(result.results[0]?.errorCode, 0);
  } finally {
    client.close();
  }
}

test('kcat: a user deleted while the broker runs cannot connect any more', { skip: kcatMissing }, async () => {
  const s = fixture.secure;
  await alterUser(s, 'kcat-gone', 'gone-pw');
  const config = configFile(s, 'SASL_SSL', 'SCRAM-SHA-512', 'gone-pw', 'kcat-gone');
  const before = await kcat(['-F', config, '-b', s.bootstrap('SASL_SSL'), '-L', '-m', '5']);
  assert.equal(before.code, 0, before.stderr);
  await alterUser(s, 'kcat-gone', null);
  const after = await kcat(['-F', config, '-b', s.bootstrap('SASL_SSL'), '-L', '-m', '5']);
  assert.notEqual(after.code, 0);
  assert.match(after.stderr, /SASL authentication error: Authentication failed/);
});
