import { randomBytes } from 'node:crypto';
import { KafscaleError } from '../../errors/kafscale-error.ts';
import type { MetadataStore } from '../../storage/meta/metadata-store.ts';
import { MetaKeys } from './meta-keys.ts';

/**
 * The cluster id, created once by whichever broker starts first (compare-and-swap on absence) and read by
 * every other. Kafka's ids are 16 random bytes in URL-safe base64 without padding (22 characters).
 */
export async function loadOrCreateClusterId(store: MetadataStore, preferred?: string): Promise<string> {
  const candidate = preferred ?? randomBytes(16).toString('base64url');
  const result = await store.txn({
    compare: [{ key: MetaKeys.clusterId, target: 'createRevision', op: '==', value: 0 }],
    success: [{ type: 'put', key: MetaKeys.clusterId, value: Buffer.from(candidate) }],
    failure: [{ type: 'get', key: MetaKeys.clusterId }],
  });
  if (result.succeeded) return candidate;
  const existing = result.results[0];
  if (existing === null || existing === undefined || typeof existing !== 'object' || Array.isArray(existing)) {
    throw new KafscaleError('KSC_META_UNAVAILABLE', 'the cluster id key vanished between the compare and the read of its transaction; retry', { retriable: true });
  }
  return existing.value.toString('utf8');
}
