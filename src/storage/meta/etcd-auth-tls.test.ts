/**
 * The etcd adapter against a real etcd that requires a client certificate (throwaway CA made with
 * openssl by the helper) and has authentication enabled: the whole metadata-store contract passes
 * with certificate + username/password, and every way of getting the credentials wrong fails at
 * connect with a typed error that says what to fix, well within the request timeout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { generateEtcdTestPki, startEtcdServer } from '../../../test/helpers/etcd-server.ts';
import type { EtcdServer, EtcdTestPki } from '../../../test/helpers/etcd-server.ts';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import type { KafscaleErrorCode } from '../../telemetry/kafscale-error.ts';
import { EtcdMetadataStore } from './etcd-metadata-store.ts';
import type { EtcdMetadataStoreOptions } from './etcd-metadata-store.ts';
import { reconnectingFixture, runMetadataStoreContract } from './metadata-store-contract.ts';
import type { WatchEvent } from './metadata-store.ts';

const USER = 'kafscale';
const PASSWORD = 'correct horse battery staple';
const REQUEST_TIMEOUT_MS = 2000;

let server: EtcdServer;
let pki: EtcdTestPki;
/** A second, unrelated CA with its own client certificate: nothing of it is trusted by `server`. */
let foreign: EtcdTestPki;
const foreignDir = mkdtempSync(join(tmpdir(), 'kafscale-foreign-pki-'));
before(async () => {
  server = await startEtcdServer({ tls: true, auth: { username: USER, password: PASSWORD } });
  assert.ok(server.pki !== null);
  pki = server.pki;
  foreign = await generateEtcdTestPki(foreignDir);
});
after(async () => {
  await server.close();
  rmSync(foreignDir, { recursive: true, force: true });
});

type Tls = NonNullable<EtcdMetadataStoreOptions['tls']>;

interface Variant {
  readonly endpoint?: string;
  /** null: no username/password. */
  readonly auth?: { readonly username: string; readonly password: string } | null;
  /** null: no TLS options at all. */
  readonly tls?: Tls | null;
}

/** Good options (certificate + password) with one thing changed. */
function options(namespace: string, variant: Variant = {}): EtcdMetadataStoreOptions {
  const auth = variant.auth === undefined ? { username: USER, password: PASSWORD } : variant.auth;
  const tls = variant.tls === undefined ? { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } : variant.tls;
  return {
    endpoints: [variant.endpoint ?? server.endpoint],
    ...(auth === null ? {} : auth),
    ...(tls === null ? {} : { tls }),
    namespace,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  };
}

let namespaces = 0;
async function connect(namespace: string): Promise<EtcdMetadataStore> {
  return await EtcdMetadataStore.connect(options(namespace));
}

runMetadataStoreContract('etcd over TLS with a client certificate and username/password', () => {
  const namespace = `/tls-${process.pid}-${namespaces++}/`;
  return reconnectingFixture(() => connect(namespace));
});

/** Rejects with `code`, not retriable, message matching `mentions`, within the request timeout. */
async function assertConnectFails(variant: Variant, code: KafscaleErrorCode, mentions: RegExp, retriable = false): Promise<void> {
  const started = Date.now();
  await assert.rejects(EtcdMetadataStore.connect(options(`/refused-${process.pid}/`, variant)), (error: unknown) => {
    assert.ok(isKafscaleError(error, code), `expected ${code}, got ${String(error)}`);
    assert.equal(error.retriable, retriable, `retriable for ${error.message}`);
    assert.match(error.message, mentions);
    return true;
  });
  const tookMs = Date.now() - started;
  assert.ok(tookMs < REQUEST_TIMEOUT_MS + 500, `failed after ${tookMs} ms`);
}

test('etcd auth: a wrong password fails at connect with KSC_META_AUTH_FAILED naming the user', async () => {
  await assertConnectFails({ auth: { username: USER, password: 'wrong' } }, 'KSC_META_AUTH_FAILED', /rejected user "kafscale": wrong user name or password/);
});

test('etcd auth: no credentials while etcd requires them fails with KSC_META_AUTH_FAILED saying so', async () => {
  // The client certificate's CN names no etcd user, so the certificate alone grants nothing.
  await assertConnectFails({ auth: null }, 'KSC_META_AUTH_FAILED', /authentication enabled and no username\/password was given/);
});

test('etcd auth: a user without a role on the key range fails with KSC_META_AUTH_FAILED naming user and namespace', async (t) => {
  const admin = new Etcd3({ hosts: server.endpoint, credentials: { rootCertificate: pki.ca, certChain: pki.clientCert, privateKey: pki.clientKey }, auth: { username: 'root', password: server.auth?.rootPassword ?? '' } });
  t.after(() => admin.close());
  await admin.user('norole').create('norole-password');
  await assertConnectFails({ auth: { username: 'norole', password: 'norole-password' } }, 'KSC_META_AUTH_FAILED', /user "norole" may not read the key range of namespace "\/refused-\d+\/"/);
});

test('etcd TLS: no client certificate when etcd requires one fails with KSC_META_TLS_FAILED', async () => {
  await assertConnectFails({ tls: { ca: pki.ca } }, 'KSC_META_TLS_FAILED', /etcd requires a client certificate and none was given/);
});

test('etcd TLS: a client certificate from a CA etcd does not trust fails with KSC_META_TLS_FAILED', async () => {
  await assertConnectFails({ tls: { ca: pki.ca, cert: foreign.clientCert, key: foreign.clientKey } }, 'KSC_META_TLS_FAILED', /etcd refused the client certificate/);
});

test('etcd TLS: a CA that did not sign the server certificate fails with KSC_META_TLS_FAILED', async () => {
  await assertConnectFails({ tls: { ca: foreign.ca, cert: pki.clientCert, key: pki.clientKey } }, 'KSC_META_TLS_FAILED', /server certificate does not verify against the given CA/);
});

test('etcd TLS: no CA for the server certificate fails with KSC_META_TLS_FAILED', async () => {
  await assertConnectFails({ tls: null }, 'KSC_META_TLS_FAILED', /no CA was given to verify the etcd server certificate/);
});

test('etcd TLS: plain http to the TLS endpoint fails within the timeout and suggests https', async () => {
  await assertConnectFails(
    { endpoint: server.endpoint.replace('https://', 'http://'), tls: null },
    'KSC_META_UNAVAILABLE',
    /if etcd serves TLS, use https:\/\/ endpoints/,
    true,
  );
});

test('etcd auth without TLS: username/password alone carry txn, lease and watch', async (t) => {
  const plain = await startEtcdServer({ auth: { username: USER, password: PASSWORD } });
  t.after(() => plain.close());
  assert.ok(plain.endpoint.startsWith('http://'));
  // The mirror image of http-to-TLS: an https endpoint on a plain-text etcd.
  const started = Date.now();
  await assert.rejects(EtcdMetadataStore.connect({ endpoints: [plain.endpoint.replace('http://', 'https://')], tls: { ca: pki.ca }, requestTimeoutMs: REQUEST_TIMEOUT_MS }), (error: unknown) => {
    assert.ok(isKafscaleError(error), String(error));
    assert.match(error.message, /etcd does not serve TLS/);
    return true;
  });
  assert.ok(Date.now() - started < REQUEST_TIMEOUT_MS + 500);
  const options = { endpoints: [plain.endpoint], namespace: '/plain/', requestTimeoutMs: REQUEST_TIMEOUT_MS } as const;
  await assert.rejects(EtcdMetadataStore.connect({ ...options, username: USER, password: 'wrong' }), (error: unknown) => isKafscaleError(error, 'KSC_META_AUTH_FAILED'));
  const store = await EtcdMetadataStore.connect({ ...options, username: USER, password: PASSWORD });
  t.after(() => store.close());

  const events: WatchEvent[] = [];
  const errors: Error[] = [];
  const watch = await store.watch('k/', {}, { onEvents: (batch) => events.push(...batch), onError: (error) => errors.push(error) });
  const lease = await store.grantLease(2000);
  const created = await store.txn({ compare: [{ key: 'k/a', target: 'version', op: '==', value: 0 }], success: [{ type: 'put', key: 'k/a', value: Buffer.from('1'), lease: lease.id }] });
  assert.equal(created.succeeded, true);
  const again = await store.txn({ compare: [{ key: 'k/a', target: 'version', op: '==', value: 0 }], success: [{ type: 'put', key: 'k/a', value: Buffer.from('2') }] });
  assert.equal(again.succeeded, false, 'the compare sees the first put');
  await lease.revoke();
  for (let i = 0; i < 100 && events.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(events.map((e) => `${e.type} ${e.key}`), ['put k/a', 'delete k/a'], 'the watch saw the put and the lease revocation');
  assert.equal(await store.get('k/a'), null);
  await watch.close();
  assert.deepEqual(errors, []);
});
