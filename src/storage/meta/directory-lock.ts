/**
 * Single-writer guard for an embedded data directory: a lock file holding the owner's pid.
 * LMDB itself would let two processes share the files, but two embedded brokers on one directory
 * would each believe they are the only node (leases, revisions), so the second one must refuse.
 * A lock whose pid is no longer running is stale (kill -9, power loss) and is taken over.
 */
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export class DirectoryLock {
  readonly path: string;
  #released = false;

  private constructor(path: string) {
    this.path = path;
  }

  /** Takes the lock on `dir` (created if missing) or throws KSC_META_UNAVAILABLE naming the directory and owner. */
  static acquire(dir: string, fileName = 'kafscale.lock'): DirectoryLock {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, fileName);
    const temp = `${path}.${process.pid}.tmp`;
    // link() is an atomic create-if-absent that publishes the file with its content already written.
    writeFileSync(temp, `${process.pid}\n`);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          linkSync(temp, path);
          return new DirectoryLock(path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const owner = readPid(path);
        if (owner !== null && isRunning(owner)) {
          const who = owner === process.pid ? 'this process (a store on it is already open)' : `process ${owner}`;
          throw new KafscaleError(
            'KSC_META_UNAVAILABLE',
            `embedded metadata directory ${dir} is in use by ${who}; only one broker may use a directory — stop it or point KAFSCALE_DATA_DIR elsewhere (if no such process is a kafscale broker, delete ${path})`,
          );
        }
        // Stale lock of a dead process: re-read right before removing it so a lock that another
        // starting process just took over is not removed by mistake.
        if (readPid(path) === owner) {
          try {
            unlinkSync(path);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          }
        }
      }
      throw new KafscaleError('KSC_META_UNAVAILABLE', `could not take the lock ${path} of embedded metadata directory ${dir}: another process keeps taking it`);
    } finally {
      unlinkSync(temp);
    }
  }

  /** Removes the lock file if it still names this process; idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (readPid(this.path) === process.pid) unlinkSync(this.path);
  }
}
