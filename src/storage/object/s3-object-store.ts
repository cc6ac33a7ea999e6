/**
 * S3 ObjectStore (AWS S3 or any S3-compatible store), on @aws-sdk/client-s3.
 *
 * Retries are ours, not the SDK's (the client runs with maxAttempts 1): one loop, one error
 * classification (s3-errors.ts), exponential backoff with full jitter, a per-attempt timeout that also
 * covers reading the response body, and a semaphore that bounds requests in flight. Worst case an
 * operation fails after maxAttempts × requestTimeoutMs plus the backoff delays (each ≤ retryMaxDelayMs).
 * Atomicity: S3 PUT is atomic per object (readers see the old or the new object, never a mix) and
 * strongly read-after-write consistent, which is all the port asks.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import type { GetOptions, ObjectInfo, ObjectStore, PutOptions } from './object-store.ts';
import { assertValidKey, assertValidPrefix, bodyLength, clipRange, closedError, notFound, throwIfAborted } from './object-key.ts';
import { RequestSemaphore } from './request-semaphore.ts';
import { classifyS3Failure, toKafscaleError, type S3FailureKind } from './s3-errors.ts';
import { joinInSlices, sha256InSlices } from './sliced-body.ts';

export interface S3ObjectStoreOptions {
  readonly bucket: string;
  readonly region: string;
  /** For S3-compatible stores (MinIO, s3rver, ...); omit for AWS. */
  readonly endpoint?: string;
  /** Path-style URLs (endpoint/bucket/key); needed by most S3-compatible stores. */
  readonly forcePathStyle?: boolean;
  /** Static credentials; without them the SDK's default chain (env, profile, IMDS, ...) applies. */
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** Encrypt objects with this KMS key (SSE-KMS). */
  readonly sseKmsKeyId?: string;
  /** Key prefix for everything this store writes ('' = bucket root); follows the key rules. */
  readonly namespace?: string;
  /** Requests in flight at most (default 64). */
  readonly maxConcurrency?: number;
  /** Of those, background GETs (read-ahead) at most (default half of maxConcurrency); see request-semaphore.ts. */
  readonly maxBackgroundConcurrency?: number;
  /** Per attempt, including the response body (default 30 000). */
  readonly requestTimeoutMs?: number;
  /** Attempts per operation, first one included (default 5). */
  readonly maxAttempts?: number;
  /** Backoff before retry n is random in [0, min(retryMaxDelayMs, retryBaseDelayMs × 2^(n-1))] (defaults 100 / 5 000). */
  readonly retryBaseDelayMs?: number;
  readonly retryMaxDelayMs?: number;
  /**
   * 'when_required' (default): no SDK flexible checksums unless the API demands them — many
   * S3-compatible stores reject them, and every batch carries its own CRC32C anyway.
   */
  readonly checksums?: 'when_required' | 'when_supported';
}

/** S3 DeleteObjects takes at most 1000 keys per call. */
const DELETE_BATCH = 1000;

interface Attempt {
  readonly signal: AbortSignal;
}

export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  readonly #client: S3Client;
  readonly #prefix: string;
  readonly #sseKmsKeyId: string | undefined;
  readonly #semaphore: RequestSemaphore;
  readonly #requestTimeoutMs: number;
  readonly #maxAttempts: number;
  readonly #retryBaseDelayMs: number;
  readonly #retryMaxDelayMs: number;
  #closed = false;

  constructor(options: S3ObjectStoreOptions) {
    const namespace = options.namespace ?? '';
    if (namespace !== '') assertValidKey(namespace);
    this.bucket = options.bucket;
    this.#prefix = namespace === '' ? '' : `${namespace}/`;
    this.#sseKmsKeyId = options.sseKmsKeyId;
    const maxConcurrency = options.maxConcurrency ?? 64;
    this.#semaphore = new RequestSemaphore(maxConcurrency, options.maxBackgroundConcurrency ?? Math.max(1, Math.floor(maxConcurrency / 2)));
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? 100;
    this.#retryMaxDelayMs = options.retryMaxDelayMs ?? 5_000;
    const checksums = options.checksums === 'when_supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
    this.#client = new S3Client({
      region: options.region,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(options.accessKeyId !== undefined && options.secretAccessKey !== undefined
        ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
        : {}),
      maxAttempts: 1,
      requestChecksumCalculation: checksums,
      responseChecksumValidation: checksums,
      requestHandler: {
        connectionTimeout: this.#requestTimeoutMs,
        // keep-alive sockets, as many as requests may be in flight
        httpAgent: { keepAlive: true, maxSockets: options.maxConcurrency ?? 64 },
        httpsAgent: { keepAlive: true, maxSockets: options.maxConcurrency ?? 64 },
      },
    });
  }

  /**
   * Runs one operation with retries. `fn` gets a signal that fires on the attempt's timeout or the
   * caller's abort; a caller abort is rethrown as is, everything else ends as a KafscaleError.
   */
  async #run<T>(operation: string, target: string, fn: (attempt: Attempt) => Promise<T>, callerSignal?: AbortSignal, background = false): Promise<T> {
    if (this.#closed) throw closedError('S3');
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(callerSignal);
      const timeout = AbortSignal.timeout(this.#requestTimeoutMs);
      const signal = callerSignal === undefined ? timeout : AbortSignal.any([timeout, callerSignal]);
      await this.#semaphore.acquire(background);
      let failure: unknown;
      try {
        return await fn({ signal });
      } catch (err) {
        failure = err;
      } finally {
        this.#semaphore.release(background);
      }
      throwIfAborted(callerSignal);
      let kind: S3FailureKind;
      if (timeout.aborted) {
        kind = 'transient';
        failure = new KafscaleError('KSC_OBJECT_UNAVAILABLE', `no response within requestTimeoutMs=${this.#requestTimeoutMs}`, { cause: failure, retriable: true });
      } else {
        kind = classifyS3Failure(failure);
      }
      if (kind === 'not-found' || kind === 'range-not-satisfiable') throw failure; // callers map these
      if (kind === 'permanent' || attempt >= this.#maxAttempts) throw toKafscaleError(kind, operation, target, attempt, failure);
      const ceilingMs = Math.min(this.#retryMaxDelayMs, this.#retryBaseDelayMs * 2 ** (attempt - 1));
      if (callerSignal === undefined) await sleep(Math.random() * ceilingMs);
      else await sleep(Math.random() * ceilingMs, undefined, { signal: callerSignal }).catch(() => callerSignal.throwIfAborted());
    }
  }

  async put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<void> {
    assertValidKey(key);
    // One contiguous body: a stream would make the SDK use aws-chunked encoding, which many S3-compatible
    // stores do not accept, and a retry needs to replay the body anyway. Costs one copy for Buffer[].
    // A background put (a merge's segment) is joined and hashed in slices (sliced-body.ts), and the hash
    // handed to the signer, which would otherwise hash the whole body at once on the event loop.
    const background = options?.background === true;
    const data = background ? await joinInSlices(body) : Buffer.isBuffer(body) ? body : Buffer.concat(body as readonly Buffer[], bodyLength(body));
    const payloadHash = background ? await sha256InSlices(data) : undefined;
    const input: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: this.#prefix + key,
      Body: data,
      ContentLength: data.length,
      ...(this.#sseKmsKeyId === undefined ? {} : { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.#sseKmsKeyId }),
    };
    await this.#run('PUT', key, ({ signal }) => this.#client.send(putCommand(input, payloadHash), { abortSignal: signal }), options?.signal, background);
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    assertValidKey(key);
    const range = options?.range;
    if (range !== undefined) {
      clipRange(range, Number.MAX_SAFE_INTEGER); // validates start/end
      // An empty range has no HTTP form ('bytes=4-3' is invalid): still the key must exist.
      if (range.end === range.start) {
        await this.head(key);
        return Buffer.alloc(0);
      }
    }
    const header = range === undefined ? undefined : `bytes=${range.start}-${range.end - 1}`;
    try {
      return await this.#run('GET', key, (attempt) => this.#getOnce(key, header, attempt), options?.signal, options?.background === true);
    } catch (err) {
      const kind = err instanceof KafscaleError ? undefined : classifyS3Failure(err);
      if (kind === 'not-found') throw notFound(key, err);
      if (kind === 'range-not-satisfiable') return Buffer.alloc(0); // start at or past the end: clipped to nothing
      throw err;
    }
  }

  async #getOnce(key: string, range: string | undefined, { signal }: Attempt): Promise<Buffer> {
    const response = await this.#client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.#prefix + key, ...(range === undefined ? {} : { Range: range }) }),
      { abortSignal: signal },
    );
    const stream = response.Body as Readable | undefined;
    if (stream === undefined) return Buffer.alloc(0);
    return readBody(stream, response.ContentLength, signal);
  }

  async head(key: string): Promise<ObjectInfo> {
    assertValidKey(key);
    try {
      const response = await this.#run('HEAD', key, ({ signal }) =>
        this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.#prefix + key }), { abortSignal: signal }),
      );
      return { key, sizeBytes: response.ContentLength ?? 0, modifiedMs: response.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (!(err instanceof KafscaleError) && classifyS3Failure(err) === 'not-found') throw notFound(key, err);
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix);
    let token: string | undefined;
    const seen = new Set<string>();
    // Bounded by the listing itself: each page carries a new continuation token until the last one.
    for (;;) {
      const page = await this.#run('LIST', prefix, ({ signal }) =>
        this.#client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.#prefix + prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }),
          { abortSignal: signal },
        ),
      );
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        yield { key: item.Key.slice(this.#prefix.length), sizeBytes: item.Size ?? 0, modifiedMs: item.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      if (token === undefined) return;
      if (seen.has(token)) throw new KafscaleError('KSC_OBJECT_UNAVAILABLE', `S3 LIST ${prefix}: the server repeated continuation token ${token}`, { retriable: true });
      seen.add(token);
    }
  }

  /**
   * One cheap request proving the bucket exists and the credentials work: a listing of at most one key,
   * one attempt, bounded by `timeoutMs`. Never throws; says what kind of failure it saw (s3-errors.ts).
   */
  async probe(timeoutMs: number): Promise<{ readonly ok: true } | { readonly ok: false; readonly kind: S3FailureKind; readonly error: unknown }> {
    if (this.#closed) return { ok: false, kind: 'permanent', error: closedError('S3') };
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      await this.#client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.#prefix, MaxKeys: 1 }), { abortSignal: signal });
      return { ok: true };
    } catch (error) {
      if (signal.aborted) return { ok: false, kind: 'transient', error: new KafscaleError('KSC_OBJECT_UNAVAILABLE', `no response within ${timeoutMs} ms`, { cause: error, retriable: true }) };
      return { ok: false, kind: classifyS3Failure(error), error };
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) assertValidKey(key);
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH);
      const response = await this.#run('DELETE', `${batch.length} keys from ${batch[0]}`, ({ signal }) =>
        this.#client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Quiet: true, Objects: batch.map((key) => ({ Key: this.#prefix + key })) } }),
          { abortSignal: signal },
        ),
      );
      // DeleteObjects answers 200 even when single keys fail; a missing key is not a failure.
      const failed = (response.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        const first = failed[0]!;
        throw new KafscaleError(
          'KSC_OBJECT_UNAVAILABLE',
          `S3 DELETE failed for ${failed.length} of ${batch.length} keys, e.g. ${first.Key} (${first.Code}: ${first.Message})`,
          { retriable: failed.some((e) => e.Code === 'InternalError' || e.Code === 'SlowDown') },
        );
      }
    }
  }

  /** Creates the bucket if it does not exist (tests, first start against a fresh S3-compatible store). */
  async ensureBucket(): Promise<void> {
    try {
      await this.#run('HEAD bucket', this.bucket, ({ signal }) => this.#client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal }));
      return;
    } catch (err) {
      if (err instanceof KafscaleError || classifyS3Failure(err) !== 'not-found') throw err;
    }
    try {
      await this.#run('CREATE bucket', this.bucket, ({ signal }) => this.#client.send(new CreateBucketCommand({ Bucket: this.bucket }), { abortSignal: signal }));
    } catch (err) {
      const code = err instanceof KafscaleError && err.cause !== undefined ? (err.cause as { name?: string }).name : undefined;
      if (code === 'BucketAlreadyOwnedByYou') return; // a concurrent ensureBucket won
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }
}

/** SigV4's payload header: the signer uses a value already set instead of hashing the body itself. */
const PAYLOAD_HASH_HEADER = 'x-amz-content-sha256';

/** A PutObject command; with `payloadHash` (the body's SHA-256, hex) set as the signed payload hash. */
function putCommand(input: PutObjectCommandInput, payloadHash: string | undefined): PutObjectCommand {
  const command = new PutObjectCommand(input);
  if (payloadHash !== undefined) {
    command.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers?: Record<string, string> } | undefined;
        if (request?.headers !== undefined) request.headers[PAYLOAD_HASH_HEADER] = payloadHash;
        return next(args);
      },
      { step: 'build', name: 'kafscalePayloadHash' },
    );
  }
  return command;
}

/**
 * The whole body of a GET response, copied once into a buffer of its Content-Length as the chunks arrive
 * ('data' events, not async iteration: one promise per chunk and a final concat cost about as much CPU as
 * the HTTP parsing itself on a cold read). The SDK's abort covers the request, not the body: a server
 * stalling mid-body must still time out, so `signal` destroys the stream. A body shorter or longer than
 * Content-Length is a connection failure (retried), as a reset mid-body would be.
 */
function readBody(stream: Readable, contentLength: number | undefined, signal: AbortSignal): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const expected = contentLength ?? -1;
    const into = expected >= 0 ? Buffer.allocUnsafe(expected) : null;
    const chunks: Buffer[] = [];
    let total = 0;
    const lengthError = (): Error =>
      Object.assign(new Error(`response body has ${total} bytes or more, Content-Length said ${expected}`), { code: 'ECONNRESET' });
    const onAbort = (): void => {
      stream.destroy(new Error('aborted while reading the response body'));
    };
    let settled = false;
    const finish = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onClose);
      // 'error' stays handled (finish is a no-op now): a late error must not become an uncaught one.
      if (error !== null) {
        reject(error);
        return;
      }
      if (into !== null) {
        if (total !== expected) reject(lengthError());
        else resolve(into);
        return;
      }
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    };
    const onData = (chunk: Buffer): void => {
      if (into === null) chunks.push(chunk);
      else if (total + chunk.length > expected) {
        total += chunk.length;
        stream.destroy(lengthError());
        return;
      } else chunk.copy(into, total);
      total += chunk.length;
    };
    const onEnd = (): void => finish(null);
    const onError = (error: Error): void => finish(error);
    // A socket closed mid-body without an 'error' (older streams): the body is incomplete.
    const onClose = (): void => finish(Object.assign(new Error('response body closed before its end'), { code: 'ECONNRESET' }));
    if (signal.aborted) {
      onAbort();
    } else {
      signal.addEventListener('abort', onAbort, { once: true });
    }
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.on('error', onError);
    stream.once('close', onClose);
  });
}
