/**
 * One metadata watch on etcd: events batched per revision, a dead watch reported once through onError
 * (KSC_META_COMPACTED when the history it needs is gone), and etcd's require-leader so a member cut off
 * from its cluster ends the watch instead of leaving it silently without events.
 */
import type { IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { isCompaction } from './etcd-call.ts';
import type { KeyValue, Watch, WatchEvent, WatchHandler } from './metadata-store.ts';

const EMPTY = Buffer.alloc(0);

/** The parts of grpc-js' Metadata and InterceptingCall the interceptor touches (grpc-js is etcd3's dependency, not ours). */
interface GrpcMetadata {
  clone(): GrpcMetadata;
  set(key: string, value: string): void;
}
interface GrpcInterceptingCall {
  start(metadata: GrpcMetadata, listener?: unknown): void;
}

/**
 * etcd's require-leader (clientv3.WithRequireLeader): metadata `hasleader: true` makes the member end a
 * watch stream with "etcdserver: no leader" once it has lost its leader, rather than keep a watch that
 * will never see another event while the rest of the cluster moves on. etcd3 then reconnects it from
 * the last revision it saw.
 */
function requireLeader(options: unknown, nextCall: (options: unknown) => GrpcInterceptingCall): GrpcInterceptingCall {
  const call = nextCall(options);
  const start = call.start.bind(call);
  call.start = (metadata, listener) => {
    // A copy: with auth, etcd3 shares one Metadata object between all calls.
    const own = metadata.clone();
    own.set('hasleader', 'true');
    start(own, listener);
  };
  return call;
}

/** Call options of every Watch call: watches require a leader. */
export const WATCH_CALL_OPTIONS = { interceptors: [requireLeader] };

export class EtcdWatch implements Watch {
  #watcher: Watcher;
  #handler: WatchHandler;
  #toKeyValue: (kv: IKeyValue) => KeyValue;
  #dead = false;
  #log: Logger | undefined;

  constructor(watcher: Watcher, handler: WatchHandler, toKeyValue: (kv: IKeyValue) => KeyValue, log: Logger | undefined) {
    this.#watcher = watcher;
    this.#handler = handler;
    this.#toKeyValue = toKeyValue;
    this.#log = log;
    watcher.on('data', (res: IWatchResponse) => this.#onData(res));
    watcher.on('error', (error: Error) => {
      this.fail(isCompaction(error)
        ? new KafscaleError('KSC_META_COMPACTED', 'etcd history needed by a metadata watch was compacted; re-read the state and watch from its revision', { cause: error })
        : new KafscaleError('KSC_META_UNAVAILABLE', `etcd ended a metadata watch: ${error.message}`, { cause: error, retriable: true }));
    });
    watcher.on('disconnected', (error: Error) => this.#log?.warn({ err: error }, 'etcd watch disconnected; reconnecting'));
  }

  #onData(res: IWatchResponse): void {
    if (this.#dead) return;
    // One etcd response may hold several revisions: deliver one batch per transaction.
    let batch: WatchEvent[] = [];
    for (const event of res.events) {
      const revision = Number(event.kv.mod_revision);
      if (batch.length > 0 && batch[0]?.revision !== revision) {
        this.#deliver(batch);
        batch = [];
      }
      const kv = this.#toKeyValue(event.kv);
      batch.push({ type: event.type === 'Delete' ? 'delete' : 'put', key: kv.key, kv: event.type === 'Delete' ? { ...kv, value: EMPTY } : kv, revision });
    }
    if (batch.length > 0) this.#deliver(batch);
  }

  #deliver(events: WatchEvent[]): void {
    try {
      this.#handler.onEvents(events);
    } catch (error) {
      this.#log?.error({ err: error }, 'metadata watch handler threw; continuing');
    }
  }

  fail(error: Error): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#watcher.cancel().catch(() => undefined);
    this.#handler.onError(error);
  }

  async close(): Promise<void> {
    if (this.#dead) return;
    this.#dead = true;
    await this.#watcher.cancel().catch(() => undefined);
  }
}
