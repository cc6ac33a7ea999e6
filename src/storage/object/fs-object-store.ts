/**
 * Filesystem ObjectStore: the embedded default. Key 'a/b/c' is the file '<root>/a/b/c', so the data
 * directory reads like the bucket it stands in for.
 *
 * Durability and atomicity (docs/design/object-store.md): put writes a temp file in the target's own
 * directory, fsyncs it, renames it over the key (rename is atomic within a directory on POSIX, so readers
 * see the old object or the new one, never a torn one), then fsyncs the directory so the rename itself
 * survives a crash. A directory not yet known to be durable is fsynced into its parent (and so on up) by
 * every put that uses it until one of them has finished doing so — not only by the put whose mkdir
 * created it — so concurrent first puts into a new directory all wait for its entry to be durable. When
 * put resolves, the object survives power loss. A put marked `newKey` (WAL objects: nothing reads the key
 * before the put resolves) skips the temp file and rename and syncs the file and its directory in
 * parallel (PutOptions.newKey).
 *
 * Temp files carry '~' in their name, a character keys cannot contain, so they never collide with a key
 * and list never reports them; leftovers from a crash are removed by `sweepTempFiles()`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import type { GetOptions, ObjectInfo, ObjectStore, PutOptions } from './object-store.ts';
import { assertValidKey, assertValidPrefix, clipRange, closedError, notFound, throwIfAborted } from './object-key.ts';

export interface FsObjectStoreOptions {
  /** Directory holding the objects; created if missing. */
  readonly root: string;
  /** fsync files and directories (default true). Only tests that measure nothing else may turn it off. */
  readonly fsync?: boolean;
  /** How a directory is fsynced; default: open, fsync, close. Tests wrap it to observe and delay the step. */
  readonly syncDirectory?: (dir: string) => Promise<void>;
}

const TEMP_MARKER = '~';
/** A put racing a delete that removes the (momentarily empty) directory retries; bounded. */
const PUT_ATTEMPTS = 3;

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/**
 * Background puts (segments) are written and data-synced 256 KiB at a time: a file system flushes a
 * file's dirty pages on fsync, and a large one queues every other fsync behind it. Small steps keep the
 * WAL flushes' fsyncs short (1 MiB until 2026-12-03; with the merger yielding to flushes before each
 * step, a smaller step is what a flush arriving mid-step waits for).
 */
const BACKGROUND_STEP_BYTES = 256 * 1024;

async function writeInSyncedSteps(handle: FileHandle, chunks: readonly Buffer[], beforeStep: (() => Promise<void>) | undefined): Promise<void> {
  let position = 0;
  let sinceSync = 0;
  for (const chunk of chunks) {
    for (let offset = 0; offset < chunk.length; ) {
      const length = Math.min(chunk.length - offset, BACKGROUND_STEP_BYTES - sinceSync);
      if (sinceSync === 0 && beforeStep !== undefined) await beforeStep();
      const { bytesWritten } = await handle.write(chunk, offset, length, position);
      if (bytesWritten !== length) throw new KafscaleError('KSC_OBJECT_UNAVAILABLE', `short write: ${bytesWritten} of ${length} bytes`, { retriable: true });
      offset += length;
      position += length;
      sinceSync += length;
      if (sinceSync >= BACKGROUND_STEP_BYTES) {
        await handle.datasync();
        sinceSync = 0;
      }
    }
  }
}

async function writeAll(handle: FileHandle, chunks: readonly Buffer[]): Promise<void> {
  const { bytesWritten } = await handle.writev(chunks as Buffer[]);
  const expected = chunks.reduce((sum, c) => sum + c.length, 0);
  if (bytesWritten !== expected) throw new KafscaleError('KSC_OBJECT_UNAVAILABLE', `short write: ${bytesWritten} of ${expected} bytes`, { retriable: true });
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class FsObjectStore implements ObjectStore {
  readonly root: string;
  readonly #fsync: boolean;
  readonly #syncDirectory: (dir: string) => Promise<void>;
  /** Directories whose entry in their parent is known to be on disk (fsynced by a put of this process). */
  readonly #durableDirs = new Set<string>();
  /** Directories this process created or found (skips a mkdir per put; forgotten when removed). */
  readonly #existingDirs = new Set<string>();
  /** Temp names: pid, a counter and this instance's random tag (one random draw per store, not per put). */
  readonly #tempTag = randomBytes(4).toString('hex');
  #tempCounter = 0;
  #closed = false;

  constructor(options: FsObjectStoreOptions) {
    this.root = resolve(options.root);
    this.#fsync = options.fsync ?? true;
    this.#syncDirectory = options.syncDirectory ?? syncDirectory;
  }

  /** Creates the root directory. Idempotent; call once before use. */
  async open(): Promise<this> {
    try {
      await mkdir(this.root, { recursive: true });
      const info = await stat(this.root);
      if (!info.isDirectory()) throw new KafscaleError('KSC_OBJECT_UNAVAILABLE', 'not a directory', { retriable: false });
    } catch (err) {
      throw new KafscaleError('KSC_OBJECT_UNAVAILABLE', `filesystem object store: cannot use ${this.root} as the object directory (${String(err)}); check KAFSCALE_DATA_DIR`, {
        cause: err,
        retriable: false,
      });
    }
    return this;
  }

  #path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  #check(): void {
    if (this.#closed) throw closedError('filesystem');
  }

  #fault(operation: string, key: string, err: unknown): KafscaleError {
    const code = errorCode(err);
    if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST') {
      return new KafscaleError(
        'KSC_OBJECT_INVALID_KEY',
        `object key ${key} collides with another key used as a directory (or the reverse); the filesystem store cannot hold both`,
        { cause: err },
      );
    }
    return new KafscaleError('KSC_OBJECT_UNAVAILABLE', `filesystem object store: ${operation} ${key} failed under ${this.root}: ${String(err)}`, {
      cause: err,
      retriable: true,
    });
  }

  async put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<void> {
    assertValidKey(key);
    this.#check();
    throwIfAborted(options?.signal);
    const target = this.#path(key);
    const chunks = Buffer.isBuffer(body) ? [body] : (body as readonly Buffer[]);
    for (let attempt = 1; ; attempt++) {
      try {
        if (options?.newKey === true && options.background !== true && (await this.#putNew(target, chunks, options.signal))) return;
        await this.#putOnce(target, chunks, options?.signal, options?.background === true, options?.beforeStep);
        return;
      } catch (err) {
        if (options?.signal?.aborted === true && err === options.signal.reason) throw err;
        // ENOENT: a concurrent delete removed the directory between mkdir and open/rename.
        if (errorCode(err) === 'ENOENT' && attempt < PUT_ATTEMPTS) {
          this.#existingDirs.delete(dirname(target));
          continue;
        }
        throw this.#fault('put', key, err);
      }
    }
  }

  /**
   * PutOptions.newKey: the object is written under its own name and the file and its directory are
   * synced in parallel — both must be durable before the put resolves, in either order, because nothing
   * refers to the key until then. False when the key exists after all (a retried key): the caller falls
   * back to the temp-and-rename put, which replaces it atomically.
   */
  async #putNew(target: string, chunks: readonly Buffer[], signal: AbortSignal | undefined): Promise<boolean> {
    const dir = dirname(target);
    if (!this.#existingDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#existingDirs.add(dir);
    }
    let handle: FileHandle;
    try {
      handle = await open(target, 'wx');
    } catch (err) {
      if (errorCode(err) === 'EEXIST') return false;
      throw err;
    }
    try {
      await writeAll(handle, chunks);
      throwIfAborted(signal);
      if (this.#fsync) await Promise.all([handle.sync(), this.#syncDirectory(dir)]);
      await handle.close();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlink(target).catch(() => undefined);
      throw err;
    }
    if (this.#fsync) await this.#syncParents(dir);
    return true;
  }

  async #putOnce(target: string, chunks: readonly Buffer[], signal: AbortSignal | undefined, background: boolean, beforeStep: (() => Promise<void>) | undefined): Promise<void> {
    const dir = dirname(target);
    if (!this.#existingDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#existingDirs.add(dir);
    }
    const temp = `${target}${TEMP_MARKER}${process.pid}-${++this.#tempCounter}-${this.#tempTag}`;
    let handle: FileHandle | undefined = await open(temp, 'wx');
    try {
      if (background && this.#fsync) {
        await writeInSyncedSteps(handle, chunks, beforeStep);
      } else {
        await writeAll(handle, chunks);
      }
      if (this.#fsync) await handle.sync();
      await handle.close();
      handle = undefined;
      throwIfAborted(signal);
      await rename(temp, target);
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    if (!this.#fsync) return;
    await this.#syncDirectory(dir);
    await this.#syncParents(dir);
  }

  /**
   * A directory's own entry lives in its parent. Whoever created it, it is durable only once that
   * parent is synced: until some put has done so, every put into it does it (and up the chain).
   */
  async #syncParents(dir: string): Promise<void> {
    const synced: string[] = [];
    for (let current = dir; current !== this.root && current.startsWith(this.root + sep) && !this.#durableDirs.has(current); current = dirname(current)) {
      await this.#syncDirectory(dirname(current));
      synced.push(current);
    }
    for (const current of synced) this.#durableDirs.add(current);
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    assertValidKey(key);
    this.#check();
    throwIfAborted(options?.signal);
    let handle: FileHandle;
    try {
      handle = await open(this.#path(key), 'r');
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') throw notFound(key, err);
      throw this.#fault('get', key, err);
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw notFound(key);
      const { start, end } = clipRange(options?.range, info.size);
      const into = options?.into;
      const out = into !== undefined && into.length === end - start ? into : Buffer.allocUnsafe(end - start);
      let filled = 0;
      // A read may return fewer bytes than asked; the file is immutable once renamed into place, so a
      // zero-byte read before the end means it was replaced mid-read by a shorter object: report it.
      while (filled < out.length) {
        const { bytesRead } = await handle.read(out, filled, out.length - filled, start + filled);
        if (bytesRead === 0) throw this.#fault('get', key, new Error('object shrank while being read'));
        filled += bytesRead;
      }
      return out;
    } catch (err) {
      if (err instanceof KafscaleError) throw err;
      if (errorCode(err) === 'EISDIR') throw notFound(key, err);
      throw this.#fault('get', key, err);
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    assertValidKey(key);
    this.#check();
    try {
      const info = await stat(this.#path(key));
      if (!info.isFile()) throw notFound(key);
      return { key, sizeBytes: info.size, modifiedMs: Math.floor(info.mtimeMs) };
    } catch (err) {
      if (err instanceof KafscaleError) throw err;
      const code = errorCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(key, err);
      throw this.#fault('head', key, err);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix);
    this.#check();
    const slash = prefix.lastIndexOf('/');
    const dirKey = prefix.slice(0, slash + 1); // '' or 'a/b/'
    const namePrefix = prefix.slice(slash + 1);
    yield* this.#walk(dirKey, namePrefix);
  }

  /**
   * Depth-first walk in key order. Sorting siblings by name, with '/' appended to directory names, yields
   * globally sorted keys: every key below directory 'a' starts with 'a/', and 'a/' sorts against its
   * siblings exactly where those keys do.
   */
  async *#walk(dirKey: string, namePrefix: string): AsyncGenerator<ObjectInfo> {
    let entries;
    try {
      entries = await readdir(dirKey === '' ? this.root : this.#path(dirKey.slice(0, -1)), { withFileTypes: true });
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // nothing under this prefix (or deleted meanwhile)
      throw this.#fault('list', dirKey, err);
    }
    const named = entries
      .filter((e) => e.name.startsWith(namePrefix) && !e.name.includes(TEMP_MARKER) && (e.isFile() || e.isDirectory()))
      .map((e) => ({ name: e.name, dir: e.isDirectory(), sortName: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.sortName < b.sortName ? -1 : a.sortName > b.sortName ? 1 : 0));
    for (const entry of named) {
      const key = dirKey + entry.name;
      if (entry.dir) {
        yield* this.#walk(`${key}/`, '');
        continue;
      }
      try {
        const info = await stat(this.#path(key));
        yield { key, sizeBytes: info.size, modifiedMs: Math.floor(info.mtimeMs) };
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw this.#fault('list', key, err);
        // deleted after readdir: a listing is not a snapshot, skipping is correct
      }
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) assertValidKey(key);
    this.#check();
    const dirs = new Set<string>();
    for (const key of keys) {
      const path = this.#path(key);
      try {
        await unlink(path);
        dirs.add(dirname(path));
      } catch (err) {
        const code = errorCode(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') continue;
        if (code === 'EISDIR' || code === 'EPERM') continue; // a directory, i.e. no object with this key
        throw this.#fault('delete', key, err);
      }
    }
    for (const dir of dirs) await this.#removeEmptyParents(dir);
  }

  /** Best effort: stops at the first directory that is not empty (or at the root). */
  async #removeEmptyParents(dir: string): Promise<void> {
    for (let current = dir; current.startsWith(this.root + sep) && current !== this.root; current = dirname(current)) {
      try {
        await rmdir(current);
      } catch {
        return;
      }
      // Created again later, it is a new entry in its parent that must be synced again.
      this.#durableDirs.delete(current);
      this.#existingDirs.delete(current);
    }
  }

  /** Removes temp files left behind by a crash mid-put. Only call when no put is in flight. */
  async sweepTempFiles(): Promise<number> {
    this.#check();
    let removed = 0;
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    for (const entry of entries) {
      if (entry.isFile() && entry.name.includes(TEMP_MARKER)) {
        await unlink(join(entry.parentPath, entry.name)).catch(() => undefined);
        removed++;
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
