/**
 * sarama, the Go client, as Debian packages it (golang-github-shopify-sarama-dev 1.22, built offline in
 * GOPATH mode with Debian's Go) against a real broker. main.go does the client calls and prints what it
 * saw as JSON; this file builds it once (cached in the temp dir by the source's hash) and asserts on it.
 *
 * Expected to pass: produce (v3) and consume (Fetch v4) with explicit timestamps; a consumer group that
 * commits with OffsetCommit v1 and, restarted, resumes after its committed offsets (before kafscale served
 * v1 the broker cut the connection on every commit and the group restarted from the beginning); offsets
 * by time (ListOffsets v1) and earliest/latest through the old form (ListOffsets v0); admin: describe
 * configs (DescribeConfigs v0, once cut as well), alter configs, create partitions, list/describe/delete
 * groups, delete topic. Known to fail: none known. Skips when Go or sarama is missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';

const run = promisify(execFile);
const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'main.go');
const GOPATH = '/usr/share/gocode';
const PER_PARTITION = 10;
const PARTITIONS = 3;

function missing(): string | false {
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) return 'no go binary (apt-get install golang-go)';
  if (spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status !== 0) return 'no gcc for cgo (apt-get install gcc)';
  if (!existsSync(join(GOPATH, 'src/github.com/Shopify/sarama/sarama.go'))) return 'no sarama sources (apt-get install golang-github-shopify-sarama-dev)';
  return false;
}
const saramaMissing = missing();

/** Builds main.go once per source version: a cgo build takes ~10 s, a cached one nothing. */
async function buildOnce(): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `kafscale-sarama-${hash}`);
  const binary = join(dir, 'sarama-compat');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}`;
  // GOPATH mode, offline: only Debian's sources under /usr/share/gocode, no module proxy.
  const env = { ...process.env, GOPATH, GO111MODULE: 'off', GOFLAGS: '', GOPROXY: 'off', GOCACHE: join(tmpdir(), 'kafscale-sarama-gocache') };
  await run('go', ['build', '-o', partial, SOURCE], { env, timeout: 240_000 });
  renameSync(partial, binary);
  return binary;
}

interface Report {
  errors: Record<string, string>;
  produced: number;
  consumed: string[];
  groupFirstRun: string[];
  committedAfterRun: Record<string, number>;
  groupSecondRun: string[];
  offsetByTimeV1: number;
  offsetAfterAllV1: number;
  oldestV0: number;
  newestV0: number;
  retentionBefore: string;
  retentionBeforeDefault: boolean;
  retentionAfter: string;
  retentionAfterDefault: boolean;
  partitionsAfterCreate: number;
  groupsListed: string[];
  groupState: string;
  groupsAfterDelete: string[];
  topicListedAfterDelete: boolean;
}

let broker: BrokerProcess | undefined;
let report: Report;
const topic = `sarama-${randomUUID().slice(0, 8)}`;
const group = `${topic}-group`;

before(async () => {
  if (saramaMissing !== false) return;
  const binary = await buildOnce();
  broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' }, logLevel: 'info' });
  const { stdout } = await run(binary, [broker.bootstrap, topic, group], { timeout: 150_000 });
  report = JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '') as Report;
});

after(async () => {
  await broker?.stop();
});

function values(prefix: string, count: number): string[] {
  const all: string[] = [];
  for (let p = 0; p < PARTITIONS; p++) for (let i = 0; i < count; i++) all.push(`${prefix}-${p}-${i}`);
  return all.sort();
}

test('sarama: every step succeeded, and the broker never cut a connection for an old version', { skip: saramaMissing }, () => {
  assert.deepEqual(report.errors, {});
  const refused = (broker?.logs() ?? '').split('\n').filter((line) => line.includes('unsupported API version'));
  assert.deepEqual(refused, []);
});

test('sarama: produce and consume with a plain consumer', { skip: saramaMissing }, () => {
  assert.equal(report.produced, PER_PARTITION * PARTITIONS + 2 * PARTITIONS);
  assert.deepEqual([...report.consumed].sort(), values('a', PER_PARTITION));
});

test('sarama: a consumer group commits (OffsetCommit v1) and, restarted, resumes after its commits', { skip: saramaMissing }, () => {
  assert.deepEqual(report.groupFirstRun, values('a', PER_PARTITION));
  assert.deepEqual(report.committedAfterRun, { 0: PER_PARTITION, 1: PER_PARTITION, 2: PER_PARTITION });
  // From the beginning it would be the 30 first values again, then these.
  assert.deepEqual(report.groupSecondRun, values('b', 2));
});

test('sarama: offsets by time (ListOffsets v1) and the oldest/newest offsets (ListOffsets v0)', { skip: saramaMissing }, () => {
  // Timestamps are one second apart from the first record: the first at or after +4.5 s is offset 5.
  assert.equal(report.offsetByTimeV1, 5);
  assert.equal(report.offsetAfterAllV1, -1, 'no record at or after a time past the newest');
  assert.equal(report.oldestV0, 0);
  assert.equal(report.newestV0, PER_PARTITION);
});

test('sarama admin: describe/alter configs (DescribeConfigs v0), create partitions, groups, delete topic', { skip: saramaMissing }, () => {
  assert.equal(report.retentionBefore, '604800000');
  assert.equal(report.retentionBeforeDefault, true);
  assert.equal(report.retentionAfter, '3600000');
  assert.equal(report.retentionAfterDefault, false);
  assert.equal(report.partitionsAfterCreate, PARTITIONS + 1);
  assert.ok(report.groupsListed.includes(group), `ListGroups names ${group}: ${report.groupsListed.join(', ')}`);
  assert.equal(report.groupState, 'Empty');
  assert.ok(!report.groupsAfterDelete.includes(group), 'the deleted group is no longer listed');
  assert.equal(report.topicListedAfterDelete, false);
});
