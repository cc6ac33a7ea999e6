/**
 * Single-writer guard for an embedded data directory: a lock file holding the owner's identity (pid,
 * process start time, boot id: process-identity.ts). LMDB itself would let two processes share the
 * files, but two embedded brokers on one directory would each believe they are the only node (leases,
 * revisions), so the second one must refuse. A lock whose holder is no longer alive is stale (kill -9,
 * power loss, a restarted container whose broker is PID 1 again, a zombie not yet reaped) and is taken over.
 *
 * Limitation: the identity is only meaningful in our own pid namespace. Two containers with separate
 * pid namespaces sharing one volume cannot see each other's processes; do not share a data directory.
 */
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { currentIdentity, formatIdentity, isAlive, parseIdentity, sameIdentity, type ProcessIdentity } from './process-identity.ts';

/** The lock file's content as written (compared before removing a stale one), or null when absent. */
function readLock(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export class DirectoryLock {
  readonly path: string;
  readonly #identity: ProcessIdentity;
  #released = false;

  private constructor(path: string, identity: ProcessIdentity) {
    this.path = path;
    this.#identity = identity;
  }

  /** Takes the lock on `dir` (created if missing) or throws KSC_META_UNAVAILABLE naming the directory and owner. */
  static acquire(dir: string, fileName = 'kafscale.lock'): DirectoryLock {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, fileName);
    const temp = `${path}.${process.pid}.tmp`;
    const identity = currentIdentity();
    // link() is an atomic create-if-absent that publishes the file with its content already written.
    writeFileSync(temp, formatIdentity(identity));
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          linkSync(temp, path);
          return new DirectoryLock(path, identity);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const content = readLock(path);
        if (content === null) continue;
        const holder = parseIdentity(content);
        if (holder !== null && isAlive(holder)) {
          const who = sameIdentity(holder, identity) ? 'this process (a store on it is already open)' : `process ${holder.pid}`;
          throw new KafscaleError(
            'KSC_META_UNAVAILABLE',
            `embedded metadata directory ${dir} is in use by ${who}; only one broker may use a directory — stop it or point KAFSCALE_DATA_DIR elsewhere (if no such process is a kafscale broker, delete ${path})`,
          );
        }
        // Stale lock of a dead process (or unreadable content): re-read right before removing it so a
        // lock that another starting process just took over is not removed by mistake.
        if (readLock(path) === content) {
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
    const content = readLock(this.path);
    const holder = content === null ? null : parseIdentity(content);
    if (holder !== null && sameIdentity(holder, this.#identity)) unlinkSync(this.path);
  }
}
