import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isConfigError, loadConfig, type KafscaleConfig } from './index.ts';

const cwd = '/srv/kafscale';

function load(env: Record<string, string>): KafscaleConfig {
  return loadConfig({ argv: [], env, cwd });
}

function problems(env: Record<string, string>): string {
  try {
    load(env);
  } catch (error) {
    if (isConfigError(error)) return error.problems.join('\n');
    throw error;
  }
  assert.fail('expected a configuration error');
}

test('without KAFSCALE_LISTENERS the single PLAINTEXT listener of KAFSCALE_BROKER_ADDR is the default', () => {
  const config = load({ KAFSCALE_BROKER_ADDR: '0.0.0.0:19092', KAFSCALE_BROKER_HOST: 'kafka.example', KAFSCALE_BROKER_PORT: '29092' });
  assert.deepEqual(config.listeners, [{ name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', listen: { host: '0.0.0.0', port: 19092 }, advertised: { host: 'kafka.example', port: 29092 } }]);
  assert.equal(config.tls, null);
  assert.deepEqual(config.sasl, { mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'], authFailureDelayMs: 100, connectionsMaxReauthMs: 0 });
});

test('listeners, advertised listeners, a custom name mapped to SASL_SSL, TLS files resolved against cwd', () => {
  const config = load({
    KAFSCALE_LISTENERS: 'PLAINTEXT://127.0.0.1:9092, internal://:9095,SASL_SSL://0.0.0.0:9094',
    KAFSCALE_ADVERTISED_LISTENERS: 'SASL_SSL://kafka.example.com:443',
    KAFSCALE_LISTENER_SECURITY_PROTOCOL_MAP: 'INTERNAL:SASL_PLAINTEXT',
    KAFSCALE_TLS_CERT_FILE: 'tls/cert.pem',
    KAFSCALE_TLS_KEY_FILE: 'tls/key.pem',
    KAFSCALE_SASL_MECHANISMS: 'scram-sha-512,PLAIN',
  });
  assert.deepEqual(config.listeners.map((l) => [l.name, l.securityProtocol, `${l.listen.host}:${l.listen.port}`, `${l.advertised.host}:${l.advertised.port}`]), [
    ['PLAINTEXT', 'PLAINTEXT', '127.0.0.1:9092', 'localhost:9092'],
    ['INTERNAL', 'SASL_PLAINTEXT', '0.0.0.0:9095', 'localhost:9095'],
    ['SASL_SSL', 'SASL_SSL', '0.0.0.0:9094', 'kafka.example.com:443'],
  ]);
  assert.equal(config.tls?.certFile, '/srv/kafscale/tls/cert.pem');
  assert.deepEqual(config.sasl.mechanisms, ['SCRAM-SHA-512', 'PLAIN']);
});

test('every listener problem is reported, naming the setting', () => {
  const text = problems({
    KAFSCALE_LISTENERS: 'PLAINTEXT://:9092,CUSTOM://:9092,SSL://:9093,bogus',
    KAFSCALE_ADVERTISED_LISTENERS: 'OTHER://host:1',
    KAFSCALE_SASL_MECHANISMS: 'GSSAPI',
    KAFSCALE_TLS_CLIENT_AUTH: 'required',
  });
  assert.match(text, /KAFSCALE_LISTENERS.*"bogus" is not NAME:\/\/host:port/);
  assert.match(text, /KAFSCALE_SASL_MECHANISMS.*"GSSAPI" is not supported/);
  const semantic = problems({
    KAFSCALE_LISTENERS: 'PLAINTEXT://:9092,CUSTOM://:9092,SSL://:9094',
    KAFSCALE_ADVERTISED_LISTENERS: 'OTHER://host:1',
    KAFSCALE_TLS_CLIENT_AUTH: 'required',
  });
  assert.match(semantic, /listener CUSTOM has no security protocol/);
  assert.match(semantic, /port 9092 is used by two listeners/);
  assert.match(semantic, /KAFSCALE_TLS_CERT_FILE.*listener SSL uses SSL/);
  assert.match(semantic, /names OTHER, which KAFSCALE_LISTENERS does not define/);
  assert.match(semantic, /KAFSCALE_TLS_CLIENT_AUTH.*KAFSCALE_TLS_CA_FILE/);
  assert.match(problems({ KAFSCALE_LISTENERS: 'PLAINTEXT://:9093' }), /KAFSCALE_METRICS_ADDR.*9093/);
});

test('proxy security: defaults are plaintext both ways; a secured proxy resolves its files and names its own login', () => {
  const plain = load({});
  assert.equal(plain.proxy.securityProtocol, 'PLAINTEXT');
  assert.deepEqual(plain.proxy.upstream, { securityProtocol: 'PLAINTEXT', tls: null, sasl: null });
  const secured = load({
    KAFSCALE_PROXY_SECURITY_PROTOCOL: 'sasl_ssl',
    KAFSCALE_TLS_CERT_FILE: 'tls/proxy.pem',
    KAFSCALE_TLS_KEY_FILE: 'tls/proxy-key.pem',
    KAFSCALE_PROXY_UPSTREAM_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFSCALE_PROXY_UPSTREAM_TLS_CA_FILE: 'tls/ca.pem',
    KAFSCALE_PROXY_UPSTREAM_SASL_USERNAME: 'proxy',
    KAFSCALE_PROXY_UPSTREAM_SASL_PASSWORD_FILE: 'secrets/proxy-password',
  });
  assert.equal(secured.proxy.securityProtocol, 'SASL_SSL');
  assert.deepEqual(secured.proxy.upstream, {
    securityProtocol: 'SASL_SSL',
    tls: { caFile: '/srv/kafscale/tls/ca.pem', certFile: null, keyFile: null },
    sasl: { mechanism: 'SCRAM-SHA-512', username: 'proxy', passwordFile: '/srv/kafscale/secrets/proxy-password' },
  });
});

test('proxy security: each incomplete combination is refused with the setting to fix', () => {
  assert.match(problems({ KAFSCALE_PROXY_SECURITY_PROTOCOL: 'SSL' }), /KAFSCALE_TLS_CERT_FILE.*proxy/);
  assert.match(problems({ KAFSCALE_PROXY_SECURITY_PROTOCOL: 'SASL_PLAINTEXT' }), /KAFSCALE_PROXY_UPSTREAM_SECURITY_PROTOCOL.*SASL_PLAINTEXT or SASL_SSL/);
  assert.match(problems({ KAFSCALE_PROXY_UPSTREAM_SECURITY_PROTOCOL: 'SASL_SSL' }), /KAFSCALE_PROXY_UPSTREAM_SASL_USERNAME.*KAFSCALE_PROXY_UPSTREAM_SASL_PASSWORD_FILE/);
  assert.match(problems({ KAFSCALE_PROXY_UPSTREAM_SECURITY_PROTOCOL: 'SSL', KAFSCALE_PROXY_UPSTREAM_TLS_CERT_FILE: 'c.pem' }), /KAFSCALE_PROXY_UPSTREAM_TLS_KEY_FILE/);
  assert.match(problems({ KAFSCALE_PROXY_SECURITY_PROTOCOL: 'TLS' }), /KAFSCALE_PROXY_SECURITY_PROTOCOL.*PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL/);
});
