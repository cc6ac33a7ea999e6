/** Public face of the producer services: producer ids and epochs (idempotent producers). */
export { ProducerIdManager, MAX_PRODUCER_EPOCH, type ProducerIdAndEpoch } from './producer-id-manager.ts';
