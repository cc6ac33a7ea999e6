/**
 * `kafscale proxy` with security on both sides (docs/design/proxy.md, "Security"): clients reach the
 * proxy over SASL_SSL (or SSL with a client certificate), the proxy logs in to the broker's SASL_SSL
 * listener as its own user (a super user) and forwards every request in an Envelope naming the client's
 * principal, so the broker's ACLs apply per user through the proxy. Real clients (kcat, kafkajs), a real
 * broker with KAFSCALE_AUTHORIZER=acl, certificates from a throwaway CA.
 * Known to fail: none known. kcat cases skip when the kcat binary is missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { AclOperation, AclPermission, PatternType, ResourceType } from '../../src/protocol/acl-codes.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { kcat, kcatMissing } from '../helpers/kcat.ts';
import { scramLogin, startSecureBroker, type SecureBroker } from '../helpers/security.ts';
import { ConnectionClosedError, WireClient } from '../helpers/wire-client.ts';
import { startProxy, type ProxyProcess } from './proxy-process.ts';

const BOB_PASSWORD = 'bob-Secret-2';
const PROXY_PASSWORD = 'proxy-Secret-3';
const MECHANISMS = 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512';

let secure: SecureBroker;
let proxy: ProxyProcess;
/** Topics: bob may READ `readable` (and so DESCRIBE it), nothing on `hidden`. */
let readable: string;
let hidden: string;

/** A WireClient logged in as alice (a super user) on the broker's SASL_PLAINTEXT listener: the test's admin. */
async function asAdmin<T>(use: (client: WireClient) => Promise<T>): Promise<T> {
  const [host, port] = secure.bootstrap('SASL_PLAINTEXT').split(':');
  const client = await WireClient.connect(host ?? '127.0.0.1', Number(port));
  try {
    const login = await scramLogin(client, 'SCRAM-SHA-512', secure.user, secure.password);
    assert.equal(login.errorCode, 0);
    return await use(client);
  } finally {
    client.close();
  }
}

async function createTopic(name: string): Promise<void> {
  await asAdmin(async (client) => {
    const result = await client.send(19, 5, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    assert.equal(result.topics[0]?.errorCode, 0);
  });
}

async function allow(principal: string, resourceType: number, name: string, operation: number): Promise<void> {
  await asAdmin(async (client) => {
    const result = await client.send(30, 3, {
      creations: [{ resourceType, resourceName: name, resourcePatternType: PatternType.LITERAL, principal, host: '*', operation, permissionType: AclPermission.ALLOW }],
    });
    assert.equal(result.results[0]?.errorCode, 0);
  });
}

function proxyEnv(upstreamUser: string, passwordFile: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    KAFSCALE_PROXY_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFSCALE_TLS_CERT_FILE: secure.pki.serverCertFile,
    KAFSCALE_TLS_KEY_FILE: secure.pki.serverKeyFile,
    KAFSCALE_SASL_MECHANISMS: MECHANISMS,
    KAFSCALE_PROXY_UPSTREAM_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFSCALE_PROXY_UPSTREAM_TLS_CA_FILE: secure.pki.caFile,
    KAFSCALE_PROXY_UPSTREAM_SASL_USERNAME: upstreamUser,
    KAFSCALE_PROXY_UPSTREAM_SASL_PASSWORD_FILE: passwordFile,
    ...extra,
  };
}

function passwordFile(name: string, password: string): string {
  const file = join(secure.dir, `${name}.password`);
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return file;
}

before(async () => {
  secure = await startSecureBroker({
    users: [['bob', BOB_PASSWORD], ['proxy', PROXY_PASSWORD]],
    env: { KAFSCALE_AUTHORIZER: 'acl', KAFSCALE_SUPER_USERS: 'User:alice;User:proxy' },
  });
  readable = `proxy-sec-readable-${randomUUID().slice(0, 8)}`;
  hidden = `proxy-sec-hidden-${randomUUID().slice(0, 8)}`;
  await createTopic(readable);
  await createTopic(hidden);
  await allow('User:bob', ResourceType.TOPIC, readable, AclOperation.READ);
  await allow('User:bob', ResourceType.GROUP, 'bob-group', AclOperation.READ);
  proxy = await startProxy({ bootstrap: secure.bootstrap('SASL_SSL'), env: proxyEnv('proxy', passwordFile('proxy', PROXY_PASSWORD)), logLevel: 'info' });
});

after(async () => {
  await proxy?.stop();
  await secure?.stop();
});

/** A kcat/librdkafka properties file for SASL_SSL to the proxy; returns its path. */
function kcatConfig(user: string, password: string, mechanism = 'SCRAM-SHA-512'): string {
  const lines = ['security.protocol=sasl_ssl', `ssl.ca.location=${secure.pki.caFile}`, `sasl.mechanisms=${mechanism}`, `sasl.username=${user}`, `sasl.password=${password}`];
  const file = join(secure.dir, `kcat-${randomUUID().slice(0, 8)}.properties`);
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

for (const mechanism of ['SCRAM-SHA-512', 'PLAIN']) {
  test(`kcat through the proxy over SASL_SSL with ${mechanism}: produce and consume as alice`, { skip: kcatMissing }, async () => {
    const topic = `proxy-sec-${randomUUID().slice(0, 8)}`;
    await createTopic(topic);
    const config = kcatConfig(secure.user, secure.password, mechanism);
    const values = Array.from({ length: 10 }, (_, i) => `v${i}`);
    const produced = await kcat(['-F', config, '-b', proxy.bootstrap, '-P', '-t', topic, '-p', '0', '-X', 'acks=all'], `${values.join('\n')}\n`);
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await kcat(['-F', config, '-b', proxy.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q']);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n'), values);
  });
}

test('kcat through the proxy: a wrong password fails with the SASL authentication error the broker gave', { skip: kcatMissing }, async () => {
  const result = await kcat(['-F', kcatConfig(secure.user, 'wrong-password'), '-b', proxy.bootstrap, '-L', '-m', '5']);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /SASL authentication error: Authentication failed/);
});

test('kcat through the proxy as bob: ACLs apply per user — only the topic bob may read is listed, produce is refused, consume works', { skip: kcatMissing }, async () => {
  const alice = kcatConfig(secure.user, secure.password);
  const written = await kcat(['-F', alice, '-b', proxy.bootstrap, '-P', '-t', readable, '-p', '0'], 'from-alice\n');
  assert.equal(written.code, 0, written.stderr);
  const bob = kcatConfig('bob', BOB_PASSWORD);
  const listing = await kcat(['-F', bob, '-b', proxy.bootstrap, '-L', '-J']);
  assert.equal(listing.code, 0, listing.stderr);
  const names = (JSON.parse(listing.stdout) as { topics: { topic: string }[] }).topics.map((t) => t.topic);
  assert.ok(names.includes(readable), `bob sees ${readable}`);
  assert.ok(!names.includes(hidden), `bob does not see ${hidden}: the broker filtered Metadata as bob, not as the proxy's super user`);
  const refused = await kcat(['-F', bob, '-b', proxy.bootstrap, '-P', '-t', readable, '-p', '0', '-X', 'message.send.max.retries=0'], 'from-bob\n');
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /Topic authorization failed/i);
  const consumed = await kcat(['-F', bob, '-b', proxy.bootstrap, '-C', '-t', readable, '-p', '0', '-o', 'beginning', '-e', '-q']);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.ok(consumed.stdout.includes('from-alice'));
});

function kafkajsClient(user: string, password: string): kafkajs.Kafka {
  return new kafkajs.Kafka({
    clientId: 'kafscale-proxy-security',
    brokers: [proxy.bootstrap],
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 1 },
    connectionTimeout: 5_000,
    ssl: { ca: [secure.pki.ca] },
    sasl: { mechanism: 'scram-sha-512', username: user, password },
  });
}

test('kafkajs through the proxy over SASL_SSL: alice produces and bob consumes in his group; bob may not produce', async () => {
  const producer = kafkajsClient(secure.user, secure.password).producer();
  await producer.connect();
  try {
    await producer.send({ topic: readable, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ value: `kjs-${i}` })) });
  } finally {
    await producer.disconnect();
  }
  const bob = kafkajsClient('bob', BOB_PASSWORD);
  const consumer = bob.consumer({ groupId: 'bob-group' });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: readable, fromBeginning: true });
    const values: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bob consumed ${values.join(',')}`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value?.toString() ?? '');
          if (values.includes('kjs-4')) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    assert.deepEqual(values.filter((v) => v.startsWith('kjs-')), ['kjs-0', 'kjs-1', 'kjs-2', 'kjs-3', 'kjs-4']);
  } finally {
    await consumer.disconnect();
  }
  const bobProducer = bob.producer();
  await bobProducer.connect();
  try {
    await assert.rejects(bobProducer.send({ topic: readable, acks: -1, messages: [{ value: 'no' }] }), (error: Error) => /authoriz/i.test(`${error.message} ${(error as { type?: string }).type ?? ''}`));
  } finally {
    await bobProducer.disconnect();
  }
});

async function proxyClient(): Promise<WireClient> {
  return WireClient.connectTls('127.0.0.1', proxy.port, { ca: secure.pki.ca });
}

test('protocol at the proxy: only ApiVersions and SASL before login; a wrong SCRAM proof fails and closes; other connections are unaffected', async () => {
  const early = await proxyClient();
  const versions = await early.send(18, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' });
  const keys = versions.apiKeys.map((a) => a.apiKey);
  assert.ok(keys.includes(17) && keys.includes(36), 'SaslHandshake and SaslAuthenticate are offered');
  await assert.rejects(early.send(3, 12, { topics: null, allowAutoTopicCreation: false }), ConnectionClosedError);

  const wrong = await proxyClient();
  const failed = await scramLogin(wrong, 'SCRAM-SHA-512', 'bob', 'not-bobs-password');
  assert.equal(failed.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
  await assert.rejects(wrong.send(3, 12, { topics: null, allowAutoTopicCreation: false }), ConnectionClosedError);

  const good = await proxyClient();
  try {
    assert.equal((await scramLogin(good, 'SCRAM-SHA-512', 'bob', BOB_PASSWORD)).errorCode, 0);
    const metadata = await good.send(3, 12, { topics: null, allowAutoTopicCreation: false });
    const names = metadata.topics.map((t) => t.name);
    assert.ok(names.includes(readable) && !names.includes(hidden), names.join(','));
    assert.deepEqual(metadata.brokers.map((b) => b.port), [proxy.port], 'the proxy is the only broker the client sees');
    // FindCoordinator is checked by a broker as bob (DESCRIBE on the group), then points at the proxy.
    const found = await good.send(10, 4, { keyType: 0, coordinatorKeys: ['bob-group', 'alices-group'] });
    assert.deepEqual(
      found.coordinators.map((c) => [c.key, c.errorCode, c.port]),
      [['bob-group', ErrorCode.NONE, proxy.port], ['alices-group', ErrorCode.GROUP_AUTHORIZATION_FAILED, -1]],
    );
  } finally {
    good.close();
  }
});

test('a proxy whose own user lacks CLUSTER_ACTION cannot act for clients: requests fail, and the proxy log says why', async () => {
  const weak = await startProxy({ bootstrap: secure.bootstrap('SASL_SSL'), env: proxyEnv('bob', passwordFile('bob', BOB_PASSWORD)), logLevel: 'info' });
  try {
    const client = await WireClient.connectTls('127.0.0.1', weak.port, { ca: secure.pki.ca });
    assert.equal((await scramLogin(client, 'SCRAM-SHA-512', secure.user, secure.password)).errorCode, 0);
    await assert.rejects(client.send(3, 12, { topics: null, allowAutoTopicCreation: false }), ConnectionClosedError);
    // The log line is written as the connection closes; give the child's output a moment to arrive.
    for (let waited = 0; waited < 5_000 && !/KSC_PROXY_ENVELOPE_REFUSED/.test(weak.logs()); waited += 100) await sleep(100);
    assert.match(weak.logs(), /KSC_PROXY_ENVELOPE_REFUSED/);
    assert.match(weak.logs(), /needs CLUSTER_ACTION on the cluster/, 'the log names the fix');
  } finally {
    await weak.stop();
  }
});

test('mTLS at the proxy: an SSL client listener maps the client certificate to the principal the broker authorizes', async () => {
  const carol = await secure.pki.issue('carol', '/O=kafscale-test/CN=carol', 'client');
  await allow('User:carol', ResourceType.TOPIC, readable, AclOperation.DESCRIBE);
  const mtls = await startProxy({
    bootstrap: secure.bootstrap('SASL_SSL'),
    env: proxyEnv('proxy', passwordFile('proxy', PROXY_PASSWORD), {
      KAFSCALE_PROXY_SECURITY_PROTOCOL: 'SSL',
      KAFSCALE_TLS_CA_FILE: secure.pki.caFile,
      KAFSCALE_TLS_CLIENT_AUTH: 'required',
      KAFSCALE_TLS_PRINCIPAL_MAPPING_RULES: 'RULE:^CN=([^,]+),.*$/$1/,DEFAULT',
    }),
  });
  try {
    const client = await WireClient.connectTls('127.0.0.1', mtls.port, { ca: secure.pki.ca, cert: carol.cert, key: carol.key });
    try {
      const metadata = await client.send(3, 12, { topics: null, allowAutoTopicCreation: false });
      const names = metadata.topics.map((t) => t.name);
      assert.ok(names.includes(readable), `carol (from her certificate) may describe ${readable}: ${names.join(',')}`);
      assert.ok(!names.includes(hidden));
    } finally {
      client.close();
    }
    await assert.rejects(
      (async () => {
        const anonymous = await WireClient.connectTls('127.0.0.1', mtls.port, { ca: secure.pki.ca });
        await anonymous.send(3, 12, { topics: null, allowAutoTopicCreation: false });
      })(),
      'no client certificate: no connection (client auth required)',
    );
  } finally {
    await mtls.stop();
  }
});
