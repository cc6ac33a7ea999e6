import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  CONFIG_SETTINGS,
  ConfigError,
  describeConfigSources,
  formatConfigHelp,
  loadConfig,
  redactConfig,
  type KafscaleConfig,
} from './index.ts';

const cwd = mkdtempSync(join(tmpdir(), 'kafscale-config-'));
after(() => rmSync(cwd, { recursive: true, force: true }));

function load(argv: string[] = [], env: Record<string, string> = {}): KafscaleConfig {
  return loadConfig({ argv, env, cwd });
}

function problemsOf(argv: string[], env: Record<string, string> = {}): readonly string[] {
  try {
    load(argv, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'KSC_CONFIG_INVALID');
    return error.problems;
  }
  assert.fail('expected loadConfig to throw');
}

function writeFile(name: string, content: string): string {
  const path = join(cwd, name);
  writeFileSync(path, content);
  return path;
}

describe('loadConfig defaults', () => {
  test('no input gives the documented defaults', () => {
    const config = load();
    assert.deepEqual(config.broker, {
      id: 0,
      allocateId: false,
      listen: { host: '0.0.0.0', port: 9092 },
      advertised: { host: 'localhost', port: 9092 },
      rack: null,
      sessionTtlMs: 10_000,
    });
    assert.deepEqual(config.ops.listen, { host: '0.0.0.0', port: 9093 });
    assert.equal(config.dataDir, join(cwd, 'data'));
    assert.deepEqual(config.objectStore, { kind: 'filesystem', rootDir: join(cwd, 'data', 'objects'), namespace: 'default' });
    assert.deepEqual(config.metadataStore, { kind: 'embedded', dir: join(cwd, 'data', 'meta') });
    assert.deepEqual(config.topics, { autoCreate: true, autoCreatePartitions: 1 });
    assert.equal(config.logLevel, 'info');
    assert.equal(config.clusterId, null);
    assert.deepEqual(config.socket, {
      requestMaxBytes: 100 * 1024 * 1024,
      connectionsMaxIdleMs: 600_000,
      maxInflightRequestsPerConnection: 64,
      queuedMaxRequestBytes: 256 * 1024 * 1024,
      maxConnections: 10_000,
      maxConnectionsPerIp: 10_000,
    });
    assert.deepEqual(config.flush, { profile: 'balanced', lingerMs: 2, idleLingerMs: 0, maxBytes: 8 * 1024 * 1024, maxInflight: 4, maxPendingBytes: 64 * 1024 * 1024 });
    assert.deepEqual(config.cache, { maxBytes: 256 * 1024 * 1024, tailBytes: 16 * 1024 * 1024, readAheadBytes: 64 * 1024 * 1024 });
    assert.deepEqual(config.merge, { maxWalEntries: 16, maxWalAgeMs: 60_000 });
    assert.deepEqual(config.groups, {
      initialRebalanceDelayMs: 3000,
      minSessionTimeoutMs: 6000,
      maxSessionTimeoutMs: 1_800_000,
      consumerSessionTimeoutMs: 45_000,
      consumerHeartbeatIntervalMs: 5_000,
      consumerAssignors: ['uniform', 'range'],
      offsetsRetentionMinutes: 10_080,
    });
  });

  test('the result is deep-frozen', () => {
    const config = load();
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.broker));
    assert.ok(Object.isFrozen(config.broker.listen));
    assert.throws(() => {
      (config.broker.listen as { port: number }).port = 1;
    }, TypeError);
    const etcd = load([], { KAFSCALE_ETCD_ENDPOINTS: 'a:2379,b:2379' });
    assert.ok(etcd.metadataStore.kind === 'etcd' && Object.isFrozen(etcd.metadataStore.endpoints));
  });

  test('advertised port defaults to the listen port; host and port can be overridden', () => {
    assert.deepEqual(load(['--broker-addr', '127.0.0.1:19092']).broker.advertised, { host: 'localhost', port: 19092 });
    const config = load([], { KAFSCALE_BROKER_ADDR: ':9000', KAFSCALE_BROKER_HOST: 'kafka.example', KAFSCALE_BROKER_PORT: '443' });
    assert.deepEqual(config.broker.listen, { host: '0.0.0.0', port: 9000 });
    assert.deepEqual(config.broker.advertised, { host: 'kafka.example', port: 443 });
  });
});

describe('broker id', () => {
  test('embedded metadata without an id: the single node is broker 0', () => {
    const config = load();
    assert.equal(config.broker.id, 0);
    assert.equal(config.broker.allocateId, false);
  });
  test('etcd without an id: allocated at start (placeholder -1 until then)', () => {
    const config = load([], { KAFSCALE_ETCD_ENDPOINTS: 'http://127.0.0.1:2379' });
    assert.equal(config.broker.allocateId, true);
    assert.equal(config.broker.id, -1);
  });
  test('etcd with an id: the configured id, nothing allocated', () => {
    const config = load([], { KAFSCALE_ETCD_ENDPOINTS: 'http://127.0.0.1:2379', KAFSCALE_BROKER_ID: '7' });
    assert.equal(config.broker.allocateId, false);
    assert.equal(config.broker.id, 7);
  });
});

describe('loadConfig sources and precedence', () => {
  test('flag > env > file > default, and describeConfigSources says which', () => {
    const file = writeFile('prec.json', JSON.stringify({ brokerId: 3, logLevel: 'debug', flushLingerMs: 50, cacheBytes: '1024' }));
    const config = load(['--config', file, '--broker-id', '1'], { KAFSCALE_BROKER_ID: '2', KAFSCALE_LOG_LEVEL: 'warn' });
    assert.equal(config.broker.id, 1);
    assert.equal(config.logLevel, 'warn');
    assert.equal(config.flush.lingerMs, 50);
    assert.equal(config.cache.maxBytes, 1024);
    const report = describeConfigSources(config);
    assert.equal(report.configFile, file);
    const source = (key: string) => report.sources.find((s) => s.key === key)?.source;
    assert.equal(source('brokerId'), 'flag');
    assert.equal(source('logLevel'), 'env');
    assert.equal(source('flushLingerMs'), 'file');
    assert.equal(source('brokerAddr'), 'default');
    assert.equal(source('s3Bucket'), 'unset');
  });

  test('KAFSCALE_CONFIG_FILE names the file; --config wins over it', () => {
    const a = writeFile('a.json', '{"brokerId": 7}');
    const b = writeFile('b.json', '{"brokerId": 8}');
    assert.equal(load([], { KAFSCALE_CONFIG_FILE: 'a.json' }).broker.id, 7);
    assert.equal(load([`--config=${b}`], { KAFSCALE_CONFIG_FILE: a }).broker.id, 8);
  });

  test('flag forms: --name value, --name=value, bare and --no- booleans; empty env counts as unset', () => {
    assert.equal(load(['--auto-create-topics=false']).topics.autoCreate, false);
    assert.equal(load(['--no-auto-create-topics']).topics.autoCreate, false);
    assert.equal(load(['--s3-path-style', '--s3-bucket', 'b']).objectStore.kind, 's3');
    const s3 = load(['--s3-bucket', 'b', '--s3-path-style']).objectStore;
    assert.ok(s3.kind === 's3' && s3.forcePathStyle);
    assert.equal(load([], { KAFSCALE_AUTO_CREATE_TOPICS: 'no' }).topics.autoCreate, false);
    assert.equal(load([], { KAFSCALE_S3_BUCKET: '' }).objectStore.kind, 'filesystem');
  });

  test('setting the bucket selects S3, setting endpoints selects etcd', () => {
    const config = load([], {
      KAFSCALE_S3_BUCKET: 'logs',
      KAFSCALE_S3_ENDPOINT: 'http://127.0.0.1:9000',
      KAFSCALE_S3_ACCESS_KEY: 'AK',
      KAFSCALE_S3_SECRET_KEY: 'SK',
      KAFSCALE_S3_PATH_STYLE: 'true',
      KAFSCALE_S3_NAMESPACE: 'prod',
      KAFSCALE_ETCD_ENDPOINTS: 'etcd-0:2379, https://etcd-1:2379',
      KAFSCALE_ETCD_USERNAME: 'u',
      KAFSCALE_ETCD_PASSWORD: 'p',
      KAFSCALE_ETCD_CA_FILE: 'ca.pem',
    });
    assert.deepEqual(config.objectStore, {
      kind: 's3',
      bucket: 'logs',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
      sseKmsKeyId: null,
      namespace: 'prod',
    });
    assert.deepEqual(config.metadataStore, {
      kind: 'etcd',
      endpoints: ['http://etcd-0:2379', 'https://etcd-1:2379'],
      auth: { username: 'u', password: 'p' },
      tls: { caFile: join(cwd, 'ca.pem'), certFile: null, keyFile: null },
    });
  });

  test('secrets are redacted in the sources, in redactConfig and in error messages', () => {
    const config = load([], { KAFSCALE_S3_BUCKET: 'b', KAFSCALE_S3_ACCESS_KEY: 'AK', KAFSCALE_S3_SECRET_KEY: 'topsecret' });
    assert.doesNotMatch(JSON.stringify(describeConfigSources(config)), /topsecret/);
    assert.doesNotMatch(JSON.stringify(redactConfig(config)), /topsecret/);
    assert.match(JSON.stringify(redactConfig(config)), /"accessKeyId":"AK"/);
    const problems = problemsOf([], { KAFSCALE_S3_SECRET_KEY: 'topsecret' });
    assert.ok(problems.some((p) => p.startsWith('KAFSCALE_S3_SECRET_KEY ')));
    assert.doesNotMatch(problems.join('\n'), /topsecret/);
  });

  test('unknown KAFSCALE_* variables are reported as warnings, not ignored silently', () => {
    const config = load([], { KAFSCALE_S3_BUKET: 'x', PATH: '/bin' });
    assert.deepEqual(describeConfigSources(config).warnings, [
      'environment variable KAFSCALE_S3_BUKET is not a kafscale setting and is ignored (a typo?)',
    ]);
  });

  test('describeConfigSources rejects objects not made by loadConfig', () => {
    assert.throws(() => describeConfigSources(structuredClone(load()) as KafscaleConfig), TypeError);
  });
});

describe('loadConfig validation', () => {
  // Each bad value must produce a problem that starts with the name the user gave it by.
  const cases: Array<{ name: string; argv?: string[]; env?: Record<string, string>; expect: RegExp }> = [
    { name: 'non-numeric id', env: { KAFSCALE_BROKER_ID: 'one' }, expect: /^KAFSCALE_BROKER_ID must be an integer from 0 .*\(got "one"\)/ },
    { name: 'negative id', argv: ['--broker-id', '-1'], expect: /^--broker-id must be an integer from 0/ },
    { name: 'fractional number', env: { KAFSCALE_FLUSH_LINGER_MS: '2.5' }, expect: /^KAFSCALE_FLUSH_LINGER_MS must be an integer/ },
    { name: 'address without port', env: { KAFSCALE_BROKER_ADDR: 'localhost' }, expect: /^KAFSCALE_BROKER_ADDR must be host:port/ },
    { name: 'port out of range', argv: ['--metrics-addr', ':70000'], expect: /^--metrics-addr port must be from 0 to 65535/ },
    { name: 'advertised port 0', env: { KAFSCALE_BROKER_PORT: '0' }, expect: /^KAFSCALE_BROKER_PORT must be an integer from 1 to 65535/ },
    { name: 'bad IPv6 literal', env: { KAFSCALE_BROKER_ADDR: '[nope]:9092' }, expect: /^KAFSCALE_BROKER_ADDR "nope" in brackets/ },
    { name: 'bad boolean', env: { KAFSCALE_AUTO_CREATE_TOPICS: 'maybe' }, expect: /^KAFSCALE_AUTO_CREATE_TOPICS must be true or false/ },
    { name: 'bad log level', argv: ['--log-level', 'loud'], expect: /^--log-level must be one of fatal, error/ },
    { name: 'zero partitions', env: { KAFSCALE_AUTO_CREATE_PARTITIONS: '0' }, expect: /^KAFSCALE_AUTO_CREATE_PARTITIONS must be an integer from 1/ },
    { name: 'bad S3 endpoint', env: { KAFSCALE_S3_BUCKET: 'b', KAFSCALE_S3_ENDPOINT: 'not a url' }, expect: /^KAFSCALE_S3_ENDPOINT must be a URL/ },
    { name: 'bad etcd endpoint', env: { KAFSCALE_ETCD_ENDPOINTS: 'ftp://x:1' }, expect: /^KAFSCALE_ETCD_ENDPOINTS "ftp:\/\/x:1" is not an http\(s\) URL/ },
    { name: 'bad namespace', env: { KAFSCALE_S3_NAMESPACE: 'a/b' }, expect: /^KAFSCALE_S3_NAMESPACE may contain only/ },
    { name: 'S3 setting without bucket', env: { KAFSCALE_S3_ENDPOINT: 'http://x:9000' }, expect: /^KAFSCALE_S3_ENDPOINT is set, but only works together with KAFSCALE_S3_BUCKET/ },
    { name: 'access key without secret', env: { KAFSCALE_S3_BUCKET: 'b', KAFSCALE_S3_ACCESS_KEY: 'a' }, expect: /^KAFSCALE_S3_ACCESS_KEY .*KAFSCALE_S3_SECRET_KEY/ },
    { name: 'etcd user without endpoints', argv: ['--etcd-username', 'u', '--etcd-password', 'p'], expect: /^--etcd-username .*KAFSCALE_ETCD_ENDPOINTS \(--etcd-endpoints\)/ },
    { name: 'wildcard advertised host', env: { KAFSCALE_BROKER_HOST: '0.0.0.0' }, expect: /^KAFSCALE_BROKER_HOST is the advertised host/ },
    { name: 'ops port clash', env: { KAFSCALE_METRICS_ADDR: '0.0.0.0:9092' }, expect: /^KAFSCALE_METRICS_ADDR uses port 9092, which KAFSCALE_BROKER_ADDR/ },
    { name: 'bad authorizer', env: { KAFSCALE_AUTHORIZER: 'simple' }, expect: /^KAFSCALE_AUTHORIZER must be one of none, acl/ },
    { name: 'unknown assignor', env: { KAFSCALE_GROUP_CONSUMER_ASSIGNORS: 'uniform,sticky' }, expect: /^KAFSCALE_GROUP_CONSUMER_ASSIGNORS "sticky" is not an assignor kafscale has/ },
    { name: 'bad super user', env: { KAFSCALE_SUPER_USERS: 'User:admin;ops' }, expect: /^KAFSCALE_SUPER_USERS "ops" is not a principal of the form Type:name/ },
    { name: 'min > max session timeout', env: { KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '2000000' }, expect: /^KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS must not exceed KAFSCALE_GROUP_MAX_SESSION_TIMEOUT_MS/ },
    { name: 'pending-bytes budget not a number', env: { KAFSCALE_FLUSH_MAX_PENDING_BYTES: '64MiB' }, expect: /^KAFSCALE_FLUSH_MAX_PENDING_BYTES must be an integer from 1024/ },
    { name: 'pending-bytes budget too small', argv: ['--flush-max-pending-bytes', '512'], expect: /^--flush-max-pending-bytes must be an integer from 1024/ },
    {
      name: 'pending-bytes budget below one flush object',
      env: { KAFSCALE_FLUSH_MAX_PENDING_BYTES: '1048576', KAFSCALE_FLUSH_MAX_BYTES: '2097152' },
      expect: /^KAFSCALE_FLUSH_MAX_PENDING_BYTES is smaller than KAFSCALE_FLUSH_MAX_BYTES .*\(2097152, .*balanced\): .*Raise KAFSCALE_FLUSH_MAX_PENDING_BYTES .*\(got "1048576"\)/,
    },
    {
      name: 'pending-bytes budget below the profile\'s flush object',
      env: { KAFSCALE_FLUSH_MAX_PENDING_BYTES: '16777216', KAFSCALE_FLUSH_PROFILE: 'cost' },
      expect: /^KAFSCALE_FLUSH_MAX_PENDING_BYTES is smaller than KAFSCALE_FLUSH_MAX_BYTES .*\(33554432, KAFSCALE_FLUSH_PROFILE .*cost\)/,
    },
    { name: 'negative tail budget', env: { KAFSCALE_LOG_TAIL_BYTES: '-1' }, expect: /^KAFSCALE_LOG_TAIL_BYTES must be an integer from 0/ },
    { name: 'fractional cache budget', argv: ['--cache-bytes', '1.5'], expect: /^--cache-bytes must be an integer/ },
    { name: 'unknown flag', argv: ['--brokr-id', '1'], expect: /^unknown flag --brokr-id/ },
    { name: 'flag without value', argv: ['--broker-id'], expect: /^--broker-id needs a value/ },
    { name: 'positional argument', argv: ['oops'], expect: /^unexpected argument "oops"/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const problems = problemsOf(c.argv ?? [], c.env ?? {});
      assert.ok(problems.some((p) => c.expect.test(p)), `no problem matched ${c.expect}; got:\n${problems.join('\n')}`);
    });
  }

  test('every problem is reported at once', () => {
    const problems = problemsOf(['--broker-id', 'x', '--log-level', 'loud', '--nope'], {
      KAFSCALE_BROKER_ADDR: 'bad',
      KAFSCALE_S3_ENDPOINT: 'http://x:9000',
    });
    assert.equal(problems.length, 5, problems.join('\n'));
    const error = new ConfigError(problems);
    assert.match(error.message, /^Invalid configuration \(5 problems\):\n {2}- /);
  });

  test('a file value that fails names the file key and path', () => {
    const file = writeFile('bad.json', JSON.stringify({ brokerId: 'x', brokerAddr: ':9092', mystery: 1 }));
    const problems = problemsOf(['--config', file]);
    assert.ok(problems.includes(`"brokerId" in ${file} must be an integer from 0 to 2147483647 (got "x")`), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith(`config file ${file}: unknown setting "mystery"`)));
  });

  test('a missing or malformed file is an error naming how it was chosen', () => {
    assert.match(problemsOf([], { KAFSCALE_CONFIG_FILE: 'missing.json' })[0] ?? '', /^KAFSCALE_CONFIG_FILE: cannot read config file .*missing\.json/);
    const broken = writeFile('broken.json', '{');
    assert.match(problemsOf(['--config', broken])[0] ?? '', /^--config: config file .* is not valid JSON/);
    const array = writeFile('array.json', '[]');
    assert.match(problemsOf(['--config', array])[0] ?? '', /must hold a JSON object/);
  });
});

describe('authorization settings', () => {
  test('off by default; acl with super users and allow-everyone when set', () => {
    assert.deepEqual(load().authorization, { authorizer: 'none', superUsers: [], allowEveryoneIfNoAclFound: false });
    const config = load([], { KAFSCALE_AUTHORIZER: 'acl', KAFSCALE_SUPER_USERS: 'User:admin; User:ops', KAFSCALE_ALLOW_EVERYONE_IF_NO_ACL_FOUND: 'true' });
    assert.deepEqual(config.authorization, { authorizer: 'acl', superUsers: ['User:admin', 'User:ops'], allowEveryoneIfNoAclFound: true });
  });
});

describe('setting names', () => {
  test('environment names documented in DESIGN.md section 8 exist', () => {
    const envs = new Set(CONFIG_SETTINGS.map((s) => s.env));
    for (const name of [
      'KAFSCALE_S3_BUCKET', 'KAFSCALE_S3_ENDPOINT', 'KAFSCALE_S3_REGION', 'KAFSCALE_S3_PATH_STYLE', 'KAFSCALE_S3_ACCESS_KEY',
      'KAFSCALE_S3_SECRET_KEY', 'KAFSCALE_S3_NAMESPACE', 'KAFSCALE_ETCD_ENDPOINTS', 'KAFSCALE_BROKER_ID', 'KAFSCALE_BROKER_ADDR',
      'KAFSCALE_BROKER_HOST', 'KAFSCALE_BROKER_PORT', 'KAFSCALE_METRICS_ADDR', 'KAFSCALE_CACHE_BYTES', 'KAFSCALE_AUTO_CREATE_TOPICS',
      'KAFSCALE_AUTO_CREATE_PARTITIONS', 'KAFSCALE_LOG_LEVEL', 'KAFSCALE_DATA_DIR',
    ]) {
      assert.ok(envs.has(name), name);
    }
  });

  test('help lists every flag and environment variable', () => {
    const help = formatConfigHelp();
    for (const s of CONFIG_SETTINGS) {
      assert.ok(help.includes(s.flag) && help.includes(s.env), s.key);
    }
    assert.match(help, /--broker-addr <value> {2}\(KAFSCALE_BROKER_ADDR\) .*\[default: 0\.0\.0\.0:9092\]/);
  });
});

describe('documentation', () => {
  test('docs/design/configuration.md names every environment variable and flag', async () => {
    const { readFile } = await import('node:fs/promises');
    const page = await readFile(new URL('../../docs/design/configuration.md', import.meta.url), 'utf8');
    for (const s of CONFIG_SETTINGS) {
      assert.ok(page.includes(`\`${s.env}\``) && page.includes(`\`${s.flag}\``), `${s.env} / ${s.flag} missing from the page`);
    }
  });
});

describe('proxy virtual brokers', () => {
  test('default 1; N takes N consecutive listen and advertised ports, refused past 65535', () => {
    assert.equal(load().proxy.virtualBrokers, 1);
    const config = load([], { KAFSCALE_PROXY_VIRTUAL_BROKERS: '3', KAFSCALE_PROXY_ADDR: '0.0.0.0:19092', KAFSCALE_PROXY_ADVERTISED_PORT: '9092' });
    assert.equal(config.proxy.virtualBrokers, 3);
    assert.deepEqual(config.proxy.listen, { host: '0.0.0.0', port: 19092 });
    assert.equal(config.proxy.advertised.port, 9092);
    assert.ok(problemsOf([], { KAFSCALE_PROXY_VIRTUAL_BROKERS: '0' }).some((p) => p.includes('KAFSCALE_PROXY_VIRTUAL_BROKERS')));
    assert.ok(problemsOf([], { KAFSCALE_PROXY_VIRTUAL_BROKERS: '4', KAFSCALE_PROXY_ADDR: ':65534' }).some((p) => p.includes('KAFSCALE_PROXY_ADDR') && p.includes('consecutive')));
    assert.ok(problemsOf([], { KAFSCALE_PROXY_VIRTUAL_BROKERS: '4', KAFSCALE_PROXY_ADVERTISED_PORT: '65533' }).some((p) => p.includes('KAFSCALE_PROXY_ADVERTISED_PORT')));
    // The default ops port (9093) is inside 9092..9094.
    assert.ok(problemsOf([], { KAFSCALE_PROXY_VIRTUAL_BROKERS: '3' }).some((p) => p.includes('KAFSCALE_METRICS_ADDR') && p.includes('9092-9094')));
    assert.equal(load([], { KAFSCALE_PROXY_VIRTUAL_BROKERS: '3', KAFSCALE_METRICS_ADDR: '0.0.0.0:9095' }).proxy.virtualBrokers, 3);
    // Listen port 0 (tests): every listener binds a free port.
    assert.equal(load([], { KAFSCALE_PROXY_VIRTUAL_BROKERS: '64', KAFSCALE_PROXY_ADDR: '127.0.0.1:0' }).proxy.virtualBrokers, 64);
  });
});
