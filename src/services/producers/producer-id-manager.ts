/**
 * Producer-id allocation for InitProducerId (docs/design/idempotence.md). Ids are handed out from blocks
 * that a broker takes from one counter in the metadata store by compare-and-swap (Kafka's
 * AllocateProducerIds, KIP-730, without a controller): unique across the cluster and across restarts,
 * one store round-trip per block, not per producer. Ids of a block a broker dies with are never reused.
 */
import type { MetadataStore } from '../../storage/meta/metadata-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';

/** Kafka's block size (ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE). */
export const PRODUCER_ID_BLOCK_SIZE = 1000;
/** Epochs are int16; Kafka hands out a new producer id instead of reaching Short.MAX_VALUE. */
export const MAX_PRODUCER_EPOCH = 32_766;
const CAS_ATTEMPTS = 32;

export interface ProducerIdAndEpoch {
  readonly producerId: bigint;
  readonly epoch: number;
}

export class ProducerIdManager {
  readonly #store: MetadataStore;
  readonly #blockSize: number;
  /** Next id of the current block and its end (exclusive); numbers: ids stay far below 2^53. */
  #next = 0;
  #end = 0;
  #refill: Promise<void> | null = null;

  constructor(store: MetadataStore, blockSize = PRODUCER_ID_BLOCK_SIZE) {
    this.#store = store;
    this.#blockSize = blockSize;
  }

  /** A producer id no broker of the cluster has handed out before. */
  async nextId(): Promise<bigint> {
    // Bounded: every pass either takes an id or waits for a refill that adds blockSize ids.
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      if (this.#next < this.#end) return BigInt(this.#next++);
      this.#refill ??= this.#allocateBlock().finally(() => {
        this.#refill = null;
      });
      await this.#refill;
    }
    throw new KafscaleError('KSC_INTERNAL', 'could not take a producer id block from the metadata store');
  }

  /**
   * InitProducerId without a transactional id. v3+ (KIP-360) with the caller's current id and epoch:
   * the same id with the epoch bumped (a new id once the epoch would overflow int16); otherwise a new id
   * at epoch 0. The bumped epoch fences the producer's old epoch on every partition (a lower epoch gets
   * INVALID_PRODUCER_EPOCH) and restarts its sequences at 0.
   */
  async initProducer(current: ProducerIdAndEpoch | null): Promise<ProducerIdAndEpoch> {
    if (current !== null && current.producerId >= 0n && current.epoch >= 0 && current.epoch < MAX_PRODUCER_EPOCH) {
      return { producerId: current.producerId, epoch: current.epoch + 1 };
    }
    return { producerId: await this.nextId(), epoch: 0 };
  }

  async #allocateBlock(): Promise<void> {
    const key = MetaKeys.producerIdBlock;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const kv = await this.#store.get(key);
      const start = kv === null ? 0 : (JSON.parse(kv.value.toString('utf8')) as { next: number }).next;
      const end = start + this.#blockSize;
      const result = await this.#store.txn({
        compare: [kv === null ? { key, target: 'createRevision', op: '==', value: 0 } : { key, target: 'modRevision', op: '==', value: kv.modRevision }],
        success: [{ type: 'put', key, value: Buffer.from(JSON.stringify({ next: end })) }],
        failure: [],
      });
      if (result.succeeded) {
        this.#next = start;
        this.#end = end;
        return;
      }
      // Another broker took a block meanwhile: read the counter again.
    }
    throw new KafscaleError('KSC_META_UNAVAILABLE', `producer id counter ${key} kept changing under ${CAS_ATTEMPTS} attempts; retry`);
  }
}
