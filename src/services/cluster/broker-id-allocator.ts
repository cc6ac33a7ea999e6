import type { Logger } from 'pino';
import type { Lease, MetadataStore } from '../../storage/meta/metadata-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { sleep } from '../../timing/backoff.ts';
import { MetaKeys } from './meta-keys.ts';

/** A broker's registration without its id: what it advertises. */
export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
  readonly startedMs: number;
  /** Every listener's advertised address (KAFSCALE_LISTENERS); see BrokerInfo.listeners. */
  readonly listeners?: readonly { readonly name: string; readonly host: string; readonly port: number }[];
}

/** Claims race only against brokers starting at the same moment; this many lost races means something else is wrong. */
const MAX_CLAIM_ATTEMPTS = 64;
/** Ids are node ids on the wire: int32, non-negative. */
const MAX_BROKER_ID = 2_147_483_647;

/**
 * Allocates a broker id from the metadata store (docs/design/cluster.md, "Broker ids"). The claim IS the
 * registration key `/kafscale/brokers/{id}`, created under the broker's session lease only if absent (one
 * compare-and-swap transaction), so:
 *
 * - two live brokers never share an id: the create is atomic, a lost race re-reads and takes the next;
 * - an id is free again exactly when its holder's lease ends (crash: expiry; shutdown: revocation), and a
 *   replacement takes the lowest free id, so the id space stays as small as the live broker count.
 *
 * Resolves with the id; the key already holds `address` under `lease`.
 */
export async function allocateBrokerId(store: MetadataStore, address: BrokerAddress, lease: Lease, log: Logger): Promise<number> {
  for (let attempt = 1; attempt <= MAX_CLAIM_ATTEMPTS; attempt++) {
    const { kvs } = await store.range(MetaKeys.brokersPrefix);
    const taken = new Set<number>();
    for (const kv of kvs) {
      const id = brokerIdOfKey(kv.key);
      if (id !== null) taken.add(id);
    }
    const candidate = lowestFree(taken);
    if (await claimBrokerId(store, candidate, address, lease)) {
      log.info({ brokerId: candidate, attempt, liveBrokers: taken.size }, 'broker id allocated from the metadata store');
      return candidate;
    }
    // Another broker created the key between our read and our transaction: read again.
    log.debug({ brokerId: candidate, attempt }, 'broker id taken concurrently; trying the next free one');
    await sleep(Math.floor(Math.random() * 20 * attempt), { ref: true });
  }
  throw new KafscaleError(
    'KSC_META_UNAVAILABLE',
    `could not allocate a broker id after ${MAX_CLAIM_ATTEMPTS} attempts (every id tried was taken concurrently); retry, or set KAFSCALE_BROKER_ID`,
    { retriable: true },
  );
}

/**
 * Creates the registration of `brokerId` under `lease` if nobody holds it, in one transaction; false when
 * the key exists (another live broker's, or our own from an earlier call — callers never repeat a claim
 * under the same lease). Used at start and to re-claim the id under a new lease after session recovery.
 */
export async function claimBrokerId(store: MetadataStore, brokerId: number, address: BrokerAddress, lease: Lease): Promise<boolean> {
  const key = MetaKeys.broker(brokerId);
  const value = Buffer.from(JSON.stringify({ brokerId, ...address }));
  const result = await store.txn({
    compare: [{ key, target: 'version', op: '==', value: 0 }],
    success: [{ type: 'put', key, value, lease: lease.id }],
  });
  return result.succeeded;
}

/** The id in a registration key, or null for a key that is not one. */
export function brokerIdOfKey(key: string): number | null {
  if (!key.startsWith(MetaKeys.brokersPrefix)) return null;
  const digits = key.slice(MetaKeys.brokersPrefix.length);
  if (!/^\d+$/.test(digits)) return null;
  const id = Number(digits);
  return id <= MAX_BROKER_ID ? id : null;
}

function lowestFree(taken: ReadonlySet<number>): number {
  let id = 0;
  while (taken.has(id)) id++;
  if (id > MAX_BROKER_ID) throw new KafscaleError('KSC_INTERNAL', 'every broker id is taken');
  return id;
}
