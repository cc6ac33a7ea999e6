/**
 * `npm run bench:authorizer`: what the ACL check costs on the produce path (docs/benchmarks.md,
 * "Authorization").
 *
 * 1. Micro-benchmark: the authorize() call a Produce makes per topic (WRITE on a TOPIC), against 1,000
 *    bindings (literal, prefixed, wildcard, many principals), versus the default allow-all authorizer.
 * 2. Produce run: the same broker build with KAFSCALE_AUTHORIZER unset and =acl (with the 1,000
 *    bindings stored), 1 KiB records, one record per request, pipelined on a few connections so the
 *    broker is busy rather than waiting for flushes; off and on are
 *    alternated twice to spread machine noise over both.
 *
 *   npm run bench:authorizer [-- --seconds 4 --connections 4 --inflight 32]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { encodeRecordBatch } from '../src/protocol/records/index.ts';
import { AclAuthorizer, ALLOW_ALL, type Authorizer } from '../src/services/security/acl-authorizer.ts';
import { AclOperation, AclPermission, PatternType, ResourceType, type AclBinding } from '../src/services/security/acl.ts';
import { startBroker } from '../test/helpers/broker-process.ts';
import { WireClient } from '../test/helpers/wire-client.ts';

const TOPIC = 'bench-acl';
const VALUE = Buffer.alloc(1024, 0x61);

/** 1,000 bindings of 200 principals, the kind of set a multi-team cluster holds. */
function bindings(): AclBinding[] {
  const list: AclBinding[] = [];
  const base = { host: '*', permission: AclPermission.ALLOW } as const;
  for (let team = 0; team < 200; team++) {
    const principal = `User:team-${team}`;
    list.push({ ...base, principal, resourceType: ResourceType.TOPIC, resourceName: `team-${team}-`, patternType: PatternType.PREFIXED, operation: AclOperation.WRITE });
    list.push({ ...base, principal, resourceType: ResourceType.TOPIC, resourceName: `team-${team}-`, patternType: PatternType.PREFIXED, operation: AclOperation.READ });
    list.push({ ...base, principal, resourceType: ResourceType.TOPIC, resourceName: `shared-${team}`, patternType: PatternType.LITERAL, operation: AclOperation.READ });
    list.push({ ...base, principal, resourceType: ResourceType.GROUP, resourceName: `team-${team}-`, patternType: PatternType.PREFIXED, operation: AclOperation.READ });
    list.push({ ...base, principal, resourceType: ResourceType.TOPIC, resourceName: `audit-${team}`, patternType: PatternType.LITERAL, operation: AclOperation.WRITE, permission: AclPermission.DENY });
  }
  list.push({ ...base, principal: 'User:ANONYMOUS', resourceType: ResourceType.TOPIC, resourceName: TOPIC, patternType: PatternType.LITERAL, operation: AclOperation.WRITE });
  list.push({ ...base, principal: 'User:ANONYMOUS', resourceType: ResourceType.TOPIC, resourceName: '*', patternType: PatternType.LITERAL, operation: AclOperation.DESCRIBE });
  return list;
}

function micro(authorizer: Authorizer, calls: number): number {
  const requester = { principal: 'User:team-117', remoteAddress: '10.1.2.3' };
  const names = ['team-117-orders', 'shared-117', 'team-3-logs', 'unrelated-topic'];
  let allowed = 0;
  const startedNs = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) if (authorizer.authorize(requester, AclOperation.WRITE, ResourceType.TOPIC, names[i & 3] as string)) allowed++;
  const ns = Number(process.hrtime.bigint() - startedNs) / calls;
  if (allowed === -1) console.log('unreachable');
  return ns;
}

/** The process's user + system CPU time in ms (Linux /proc; clock ticks at 100 Hz). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface RunResult {
  requestsPerSecond: number;
  mibPerSecond: number;
  /** Broker CPU per produce request: less sensitive to other load on the machine than throughput. */
  cpuUsPerRequest: number;
}

async function produceRun(authorizer: 'none' | 'acl', seconds: number, connections: number, inflight: number): Promise<RunResult> {
  const env: Record<string, string> = { KAFSCALE_AUTO_CREATE_TOPICS: 'false' };
  // allow-everyone lets the ANONYMOUS setup connection create the first ACLs (no ACL names the cluster
  // yet); from then on every check below meets real bindings (the topic and the cluster have some).
  if (authorizer === 'acl') Object.assign(env, { KAFSCALE_AUTHORIZER: 'acl', KAFSCALE_SUPER_USERS: 'User:admin', KAFSCALE_ALLOW_EVERYONE_IF_NO_ACL_FOUND: 'true' });
  const broker = await startBroker({ logLevel: 'warn', env });
  const clients: WireClient[] = [];
  try {
    const setup = await WireClient.connect(broker.host, broker.port, 'bench-authorizer');
    clients.push(setup);
    // No SASL yet: every connection is User:ANONYMOUS, which the bindings allow to WRITE the topic.
    if (authorizer === 'acl') {
      const created = await setup.send(30, 3, {
        creations: [
          ...bindings(),
          { resourceType: ResourceType.CLUSTER, resourceName: 'kafka-cluster', patternType: PatternType.LITERAL, principal: 'User:ANONYMOUS', host: '*', operation: AclOperation.CREATE, permission: AclPermission.ALLOW },
          { resourceType: ResourceType.CLUSTER, resourceName: 'kafka-cluster', patternType: PatternType.LITERAL, principal: 'User:ANONYMOUS', host: '*', operation: AclOperation.ALTER, permission: AclPermission.ALLOW },
        ].map((b) => ({ resourceType: b.resourceType, resourceName: b.resourceName, resourcePatternType: b.patternType, principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission })),
      });
      if (created.results.some((r) => r.errorCode !== 0)) throw new Error(`CreateAcls failed: ${JSON.stringify(created.results.find((r) => r.errorCode !== 0))}`);
    }
    const topics = await setup.send(19, 7, { topics: [{ name: TOPIC, numPartitions: connections, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    if (topics.topics[0]?.errorCode !== 0) throw new Error(`CreateTopics failed: ${topics.topics[0]?.errorCode}`);
    for (let i = 0; i < connections; i++) clients.push(await WireClient.connect(broker.host, broker.port, 'bench-authorizer'));
    const deadline = Date.now() + seconds * 1000;
    const cpuBeforeMs = cpuMs(broker.pid);
    let requests = 0;
    const loops = clients.slice(1).flatMap((client, partition) => Array.from({ length: inflight }, () => ({ client, partition })));
    await Promise.all(loops.map(async ({ client, partition }) => {
      while (Date.now() < deadline) {
        const records = encodeRecordBatch({ records: [{ value: VALUE, timestamp: BigInt(Date.now()) }] });
        const response = await client.send(0, 9, { transactionalId: null, acks: 1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [{ index: partition, records }] }] }, 15_000);
        const code = response.responses[0]?.partitionResponses[0]?.errorCode;
        if (code !== 0) throw new Error(`produce failed with error ${code}`);
        requests++;
      }
    }));
    const cpuUsPerRequest = ((cpuMs(broker.pid) - cpuBeforeMs) * 1000) / requests;
    return { requestsPerSecond: requests / seconds, mibPerSecond: (requests * VALUE.length) / seconds / (1 << 20), cpuUsPerRequest };
  } finally {
    for (const client of clients) client.close();
    await broker.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' }, connections: { type: 'string', default: '4' }, inflight: { type: 'string', default: '32' } } });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const inflight = Number(values.inflight);
  const acl = new AclAuthorizer({ superUsers: ['User:admin'], allowEveryoneIfNoAclFound: false }, bindings());
  micro(acl, 200_000);
  micro(ALLOW_ALL, 200_000);
  const aclNs = Math.min(micro(acl, 2_000_000), micro(acl, 2_000_000));
  const allowAllNs = Math.min(micro(ALLOW_ALL, 2_000_000), micro(ALLOW_ALL, 2_000_000));
  console.log(`authorize(WRITE, TOPIC) with ${bindings().length} bindings: ${aclNs.toFixed(0)} ns/call; allow-all: ${allowAllNs.toFixed(1)} ns/call`);

  const runs: ({ authorizer: 'none' | 'acl' } & RunResult)[] = [];
  // ABBA order: a load drift on the shared machine weighs on both sides alike.
  for (const authorizer of ['none', 'acl', 'acl', 'none'] as const) {
    const result = await produceRun(authorizer, seconds, connections, inflight);
    runs.push({ authorizer, ...result });
    console.error(`produce 1 KiB, authorizer ${authorizer}: ${result.requestsPerSecond.toFixed(0)} req/s (${result.mibPerSecond.toFixed(2)} MiB/s), broker CPU ${result.cpuUsPerRequest.toFixed(0)} µs/request`);
  }
  const mean = (which: string, field: 'requestsPerSecond' | 'cpuUsPerRequest') => {
    const picked = runs.filter((r) => r.authorizer === which);
    return picked.reduce((sum, r) => sum + r[field], 0) / picked.length;
  };
  const off = mean('none', 'requestsPerSecond');
  const on = mean('acl', 'requestsPerSecond');
  const cpuOff = mean('none', 'cpuUsPerRequest');
  const cpuOn = mean('acl', 'cpuUsPerRequest');
  console.log(`produce 1 KiB, 1 record per request, ${connections} connections x ${inflight} pipelined, ${seconds} s per run, 2 runs each (ABBA): off ${off.toFixed(0)} req/s, on ${on.toFixed(0)} req/s (${(((on - off) / off) * 100).toFixed(1)} %); broker CPU off ${cpuOff.toFixed(0)} µs/request, on ${cpuOn.toFixed(0)} µs/request (${(((cpuOn - cpuOff) / cpuOff) * 100).toFixed(1)} %)`);
  console.log(`authorize cost per produce request: ${aclNs.toFixed(0)} ns = ${((aclNs / (cpuOff * 1000)) * 100).toFixed(2)} % of the broker CPU a 1 KiB produce request costs (${cpuOff.toFixed(0)} µs)`);
}

await main();
