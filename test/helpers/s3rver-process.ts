/**
 * Child-process entry for test/helpers/s3-server.ts: runs s3rver and prints {"port":N} once listening.
 * Runs under `node --openssl-legacy-provider` (s3-server.ts says why). Exits when its parent closes
 * stdin, so a crashed test run leaves no server behind.
 *
 * Two s3rver deviations from S3 would make the shared contract fail for the server's sake, not the
 * adapter's; they are corrected here at runtime by wrapping its store object (node_modules untouched):
 *  - listObjects returns keys in directory-walk order, not S3's UTF-8 byte order ('t/0/a' before
 *    't/0-x'), and pages by "key > last key of the previous page", which skips or repeats keys once the
 *    two orders differ. The wrapper lists everything, sorts by key and pages like S3.
 *  - a ranged GET of a zero-byte object promises one byte and sends none (the client sees a reset).
 *    The wrapper drops the range for empty objects, so the whole (empty) object is returned.
 *  - putObject streams into the object's file in place, so concurrent PUTs of one key interleave into a
 *    mix (S3 PUTs are atomic: last writer wins whole); and deleteObject removes the emptied directory,
 *    so a PUT into the same directory at that moment opens its file in a directory that is gone and the
 *    unhandled stream error kills the server. The wrapper serialises PUTs per key, and a DELETE waits for
 *    the PUTs in flight in its directory (at most 2 s: a PUT whose client vanished mid-body never ends)
 *    while new PUTs there wait for the DELETE. Never serialise all PUTs of a directory: one abandoned
 *    request would then stall every later PUT (the kill -9 tests abandon requests all the time).
 */
import { createRequire } from 'node:module';

interface S3rverObject {
  readonly key: string;
}
interface S3rverListResult {
  objects: S3rverObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
interface S3rverListOptions {
  readonly startAfter?: string;
  readonly maxKeys?: number;
  readonly [option: string]: unknown;
}
interface S3rverStore {
  listObjects(bucket: string, options: S3rverListOptions): Promise<S3rverListResult>;
  getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<unknown>;
  putObject(object: { readonly bucket: string; readonly key: string }): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<unknown>;
}
interface S3rverInstance {
  run(): Promise<{ port: number }>;
  readonly store: S3rverStore;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

function correctStore(store: S3rverStore): void {
  const listAll = store.listObjects.bind(store);
  store.listObjects = async (bucket, options) => {
    const all = await listAll(bucket, { ...options, startAfter: '', maxKeys: Number.POSITIVE_INFINITY });
    const startAfter = options.startAfter ?? '';
    const maxKeys = options.maxKeys ?? 1000;
    // Keys are ASCII in these tests, so UTF-16 comparison equals S3's UTF-8 byte order.
    const sorted = all.objects.filter((o) => o.key > startAfter).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { objects: sorted.slice(0, maxKeys), commonPrefixes: all.commonPrefixes, isTruncated: sorted.length > maxKeys };
  };
  const getObject = store.getObject.bind(store);
  store.getObject = async (bucket, key, options) => {
    if (options !== undefined) {
      const metadata = await store.getMetadata(bucket, key).catch(() => undefined);
      if (String(metadata?.['content-length']) === '0') return getObject(bucket, key);
    }
    return getObject(bucket, key, options);
  };
  const dirOf = (bucketName: string, key: string): string => `${bucketName}/${key.slice(0, key.lastIndexOf('/') + 1)}`;
  const putChains = new Map<string, Promise<unknown>>();
  const putsInFlight = new Map<string, Set<Promise<unknown>>>();
  const deletesInFlight = new Map<string, Promise<unknown>>();
  const putObject = store.putObject.bind(store);
  store.putObject = (object) => {
    const id = `${object.bucket}/${object.key}`;
    const dir = dirOf(object.bucket, object.key);
    const previous = Promise.all([putChains.get(id), deletesInFlight.get(dir)]);
    const current = previous.catch(() => undefined).then(() => putObject(object));
    putChains.set(id, current);
    let inDir = putsInFlight.get(dir);
    if (inDir === undefined) putsInFlight.set(dir, (inDir = new Set()));
    inDir.add(current);
    void current.finally(() => {
      if (putChains.get(id) === current) putChains.delete(id);
      inDir.delete(current);
      if (inDir.size === 0 && putsInFlight.get(dir) === inDir) putsInFlight.delete(dir);
    }).catch(() => undefined);
    return current;
  };
  const deleteObject = store.deleteObject.bind(store);
  store.deleteObject = (bucketName, key) => {
    const dir = dirOf(bucketName, key);
    const puts = [...(putsInFlight.get(dir) ?? [])];
    const settled = Promise.race([Promise.allSettled(puts), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    const previous = deletesInFlight.get(dir) ?? Promise.resolve();
    const current = Promise.all([previous.catch(() => undefined), settled]).then(() => deleteObject(bucketName, key));
    deletesInFlight.set(dir, current);
    void current.finally(() => {
      if (deletesInFlight.get(dir) === current) deletesInFlight.delete(dir);
    }).catch(() => undefined);
    return current;
  };
}

const { directory, bucket } = JSON.parse(process.argv[2] ?? '{}') as { directory: string; bucket: string };
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
correctStore(server.store);
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
