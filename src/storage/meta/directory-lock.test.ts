import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import { DirectoryLock } from './directory-lock.ts';
import { tempDirs } from '../../../test/helpers/temp-dir.ts';
import { currentIdentity, readBootId, readProcessStat, type ProcessIdentity } from './process-identity.ts';

const tempDir = tempDirs('kafscale-lock-');

function writeLock(dir: string, identity: ProcessIdentity | string): void {
  writeFileSync(join(dir, 'kafscale.lock'), typeof identity === 'string' ? identity : `${JSON.stringify(identity)}\n`);
}

function refused(dir: string, holderPid: number): void {
  assert.throws(
    () => DirectoryLock.acquire(dir),
    (error: unknown) => {
      assert.ok(isKafscaleError(error, 'KSC_META_UNAVAILABLE'));
      assert.match(error.message, new RegExp(`in use by process ${holderPid}`));
      return true;
    },
  );
}

function takenOver(t: TestContext, dir: string): void {
  const lock = DirectoryLock.acquire(dir);
  t.after(() => lock.release());
  assert.deepEqual(JSON.parse(readFileSync(lock.path, 'utf8')), currentIdentity(), 'the lock now names this process');
}

function sleeper(t: TestContext): ChildProcess {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  assert.ok(child.pid);
  return child;
}

const me = currentIdentity();

describe('DirectoryLock', { skip: me.startTime === null || me.bootId === null ? 'needs /proc (Linux)' : false }, () => {
  test('a live other process holding the lock is refused', (t) => {
    const dir = tempDir();
    const child = sleeper(t);
    const pid = child.pid as number;
    writeLock(dir, { pid, startTime: readProcessStat(pid)?.startTime ?? null, bootId: readBootId() });
    refused(dir, pid);
    // Older lock files held the bare pid: still honoured for a live process.
    writeLock(dir, `${pid}\n`);
    refused(dir, pid);
  });

  test('our own pid with another start time is a previous incarnation (PID 1 in a restarted container): stale', (t) => {
    const dir = tempDir();
    writeLock(dir, { ...me, startTime: String(Number(me.startTime) - 1) });
    takenOver(t, dir);
  });

  test('our own pid with another boot id is from before a reboot: stale', (t) => {
    const dir = tempDir();
    writeLock(dir, { ...me, bootId: '00000000-0000-4000-8000-000000000000' });
    takenOver(t, dir);
  });

  test('a bare pid that is our own (older lock file, restarted container) is stale', (t) => {
    const dir = tempDir();
    writeLock(dir, `${process.pid}\n`);
    takenOver(t, dir);
  });

  test('a pid reused by another process (start time differs) is stale', (t) => {
    const dir = tempDir();
    const pid = sleeper(t).pid as number;
    writeLock(dir, { pid, startTime: String(Number(readProcessStat(pid)?.startTime) + 12_345), bootId: readBootId() });
    takenOver(t, dir);
  });

  test('a zombie (exited, not yet reaped by its parent) is dead: its lock is stale', async (t) => {
    const dir = tempDir();
    // `sh` starts a short-lived child and execs into `sleep`, which never reaps it: the child stays a zombie.
    const parent = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    t.after(() => parent.kill('SIGKILL'));
    const [line] = (await new Promise<string>((resolve) => parent.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())))).split('\n');
    const pid = Number(line);
    assert.ok(Number.isSafeInteger(pid) && pid > 0, `child pid ${line}`);
    const startTime = readProcessStat(pid)?.startTime ?? null;
    const deadline = Date.now() + 5_000;
    while (readProcessStat(pid)?.state !== 'Z') {
      assert.ok(Date.now() < deadline, `process ${pid} did not become a zombie`);
      await sleep(10);
    }
    // kill(pid, 0) still succeeds on a zombie: the old pid-only check called it running.
    assert.doesNotThrow(() => process.kill(pid, 0));
    writeLock(dir, { pid, startTime, bootId: readBootId() });
    takenOver(t, dir);
    // The same with a bare pid (older lock file format).
    const again = tempDir();
    writeLock(again, `${pid}\n`);
    takenOver(t, again);
  });

  test('the same process opening the directory twice is refused; release() frees it', () => {
    const dir = tempDir();
    const lock = DirectoryLock.acquire(dir);
    assert.throws(() => DirectoryLock.acquire(dir), /in use by this process/);
    lock.release();
    lock.release();
    DirectoryLock.acquire(dir).release();
  });
});
