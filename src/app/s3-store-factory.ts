import type { Logger } from 'pino';
import type { S3ObjectStoreConfig } from '../config/index.ts';
import type { ObjectStore } from '../storage/object/object-store.ts';
import { S3ObjectStore } from '../storage/object/s3-object-store.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';

/** How long start-up waits for the bucket's first answer before it starts anyway. */
const STARTUP_PROBE_TIMEOUT_MS = 5_000;

/** Loaded only when S3 is configured, so a single-node broker never loads the AWS SDK. */
export async function openS3ObjectStore(config: S3ObjectStoreConfig, log: Logger): Promise<ObjectStore> {
  const store = new S3ObjectStore({
    bucket: config.bucket,
    region: config.region,
    ...(config.endpoint === null ? {} : { endpoint: config.endpoint }),
    forcePathStyle: config.forcePathStyle,
    ...(config.credentials === null ? {} : { accessKeyId: config.credentials.accessKeyId, secretAccessKey: config.credentials.secretAccessKey }),
    ...(config.sseKmsKeyId === null ? {} : { sseKmsKeyId: config.sseKmsKeyId }),
    // The namespace is the first segment of every key the storage engine writes (see storage.md), so
    // the adapter itself adds no prefix.
  });
  // A bucket that does not exist or refuses the credentials is a configuration error: fail fast, naming
  // the settings. A store that is merely down or slow is an outage, not a reason to stay off the network:
  // the broker starts (produce answers retriable errors, /readyz reports the object store) and recovers
  // when the store does — a pod restarted during an S3 incident must not crash-loop (docs/reliability.md).
  const probe = await store.probe(STARTUP_PROBE_TIMEOUT_MS);
  const where = `S3 bucket ${config.bucket} at ${config.endpoint ?? `the AWS endpoint of ${config.region}`}`;
  if (!probe.ok) {
    const reason = probe.error instanceof Error ? probe.error.message : String(probe.error);
    if (probe.kind === 'permanent' || probe.kind === 'not-found') {
      await store.close();
      throw new KafscaleError('KSC_OBJECT_UNAVAILABLE', `${where} refused the broker (KAFSCALE_S3_BUCKET, KAFSCALE_S3_ENDPOINT, KAFSCALE_S3_REGION, credentials): ${reason}`, {
        cause: probe.error,
      });
    }
    log.warn({ bucket: config.bucket, kind: probe.kind, reason }, `${where} is not answering; starting anyway, produce and uncached fetches fail retriably until it does (see /readyz)`);
    return store;
  }
  log.debug({ bucket: config.bucket }, 'S3 object store reachable');
  return store;
}
