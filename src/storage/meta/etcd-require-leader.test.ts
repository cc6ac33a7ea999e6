/**
 * Watches require a leader: a two-member etcd cluster loses its leader when one member is stopped
 * (SIGSTOP); the member the store talks to must then cancel our watch ("etcdserver: no leader") rather
 * than keep it silently, and once the cluster is whole again the watch reconnects and sees new writes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { ETCD_BINARY } from '../../../test/helpers/etcd-server.ts';
import { freePort } from '../../../test/helpers/free-port.ts';
import { EtcdMetadataStore } from './etcd-metadata-store.ts';
import type { WatchEvent } from './metadata-store.ts';
import { waitFor } from '../../../test/helpers/wait-for.ts';

interface Member {
  readonly name: string;
  readonly client: string;
  readonly peer: string;
  readonly dataDir: string;
  process: ChildProcess | null;
}

const members: Member[] = [];
after(() => {
  for (const m of members) {
    m.process?.kill('SIGCONT');
    m.process?.kill('SIGKILL');
    rmSync(m.dataDir, { recursive: true, force: true });
  }
});

async function startCluster(): Promise<Member[]> {
  const cluster: Member[] = [];
  for (const name of ['m1', 'm2']) {
    cluster.push({ name, client: `http://127.0.0.1:${await freePort('127.0.0.1')}`, peer: `http://127.0.0.1:${await freePort('127.0.0.1')}`, dataDir: mkdtempSync(join(tmpdir(), 'kafscale-etcd2-')), process: null });
  }
  members.push(...cluster);
  const initial = cluster.map((m) => `${m.name}=${m.peer}`).join(',');
  for (const m of cluster) {
    m.process = spawn(ETCD_BINARY, [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', m.client, '--advertise-client-urls', m.client,
      '--listen-peer-urls', m.peer, '--initial-advertise-peer-urls', m.peer,
      '--initial-cluster', initial, '--initial-cluster-state', 'new',
      '--heartbeat-interval', '20', '--election-timeout', '200',
      '--log-level', 'error',
    ], { stdio: 'ignore' });
  }
  await healthy(cluster[0] as Member, 20_000);
  return cluster;
}

async function healthy(member: Member, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const body = (await (await fetch(`${member.client}/health`, { signal: AbortSignal.timeout(1000) })).json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      // not yet
    }
    assert.ok(Date.now() < deadline, `etcd ${member.name} did not become healthy`);
    await sleep(50);
  }
}


test('etcd watches require a leader: a member that lost its leader cancels the watch, which reconnects once the cluster is whole', { timeout: 60_000 }, async () => {
  const [m1, m2] = await startCluster();
  assert.ok(m1 && m2);
  const lines: Array<{ msg?: string }> = [];
  const log = pino({ level: 'warn' }, new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as { msg?: string });
      done();
    },
  }));
  // The store talks to m1 only, so it cannot escape to the healthy side by itself.
  const store = await EtcdMetadataStore.connect({ endpoints: [m1.client], namespace: '/rl/', requestTimeoutMs: 2000, log });
  const events: WatchEvent[] = [];
  const watch = await store.watch('k/', {}, { onEvents: (batch) => events.push(...batch), onError: () => {} });
  try {
    await store.put('k/before', Buffer.from('1'));
    await waitFor('the first event', () => events.length === 1, 5_000);

    m2.process?.kill('SIGSTOP');
    // Two members: without m2 there is no quorum, so m1 has no leader within an election timeout or two;
    // etcd then ends every stream that asked for a leader.
    await waitFor('the watch to be cancelled for want of a leader', () => lines.some((l) => l.msg === 'etcd watch disconnected; reconnecting'), 15_000);

    m2.process?.kill('SIGCONT');
    await healthy(m1, 20_000);
    await store.put('k/after', Buffer.from('2'));
    await waitFor('the reconnected watch to deliver the new write', () => events.some((e) => e.key === 'k/after'), 15_000);
    assert.deepEqual(events.map((e) => e.key), ['k/before', 'k/after'], 'resumed from its revision: nothing lost, nothing twice');
  } finally {
    m2.process?.kill('SIGCONT');
    await watch.close();
    await store.close();
  }
});
