/**
 * Who holds a lock file, in terms that survive pid reuse: pid + the process's start time (field 22 of
 * /proc/PID/stat, in clock ticks since boot) + the kernel's boot id. A pid alone is no identity: in a
 * container the broker is often PID 1 again after a restart, and a pid can be reused by anything.
 *
 * Node has no flock/fcntl binding and no dependency present offers one, so a lock the kernel releases on
 * death is not available; this is the fallback. Without /proc (not Linux) only the pid is known.
 */
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  readonly pid: number;
  /** /proc/PID/stat field 22; null where /proc is not available. */
  readonly startTime: string | null;
  /** /proc/sys/kernel/random/boot_id; null where not available. */
  readonly bootId: string | null;
}

interface ProcessStat {
  /** R, S, D, Z (zombie), X (dead), … */
  readonly state: string;
  readonly startTime: string;
}

/** /proc/PID/stat of a process, or null when there is no such process (or no /proc). */
export function readProcessStat(pid: number): ProcessStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Field 2 (comm) is in parentheses and may itself contain spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined) return null;
  return { state, startTime };
}

export function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

export function currentIdentity(): ProcessIdentity {
  return { pid: process.pid, startTime: readProcessStat(process.pid)?.startTime ?? null, bootId: readBootId() };
}

export function formatIdentity(identity: ProcessIdentity): string {
  return `${JSON.stringify(identity)}\n`;
}

/** Parses a lock file: the JSON identity, or a bare pid (lock files of older versions). Null when unreadable. */
export function parseIdentity(text: string): ProcessIdentity | null {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const pid = Number(trimmed);
    return Number.isSafeInteger(pid) && pid > 0 ? { pid, startTime: null, bootId: null } : null;
  }
  try {
    const value = JSON.parse(trimmed) as Partial<Record<keyof ProcessIdentity, unknown>>;
    const pid = value.pid;
    if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return null;
    return { pid, startTime: typeof value.startTime === 'string' ? value.startTime : null, bootId: typeof value.bootId === 'string' ? value.bootId : null };
  } catch {
    return null;
  }
}

export function sameIdentity(a: ProcessIdentity, b: ProcessIdentity): boolean {
  return a.pid === b.pid && a.startTime === b.startTime && a.bootId === b.bootId;
}

/**
 * Whether the process a lock file names is still alive: not after a reboot (other boot id), not when
 * its pid now belongs to a process started at another time, not as a zombie (exited, not yet reaped:
 * a restart a second after kill -9 must not be refused), and not when the pid is gone.
 */
export function isAlive(holder: ProcessIdentity): boolean {
  const bootId = readBootId();
  if (holder.bootId !== null && bootId !== null && holder.bootId !== bootId) return false;
  const stat = readProcessStat(holder.pid);
  if (stat === null) return bootId === null ? signalable(holder.pid) : false;
  if (stat.state === 'Z' || stat.state === 'X' || stat.state === 'x') return false;
  if (holder.startTime !== null) return holder.startTime === stat.startTime;
  // A bare pid (older lock file): our own pid in it cannot be ours (we write the full identity), so it
  // is a previous incarnation's, e.g. PID 1 of a restarted container.
  return holder.pid !== process.pid;
}

function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
