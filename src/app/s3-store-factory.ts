import type { Logger } from 'pino';
import type { S3ObjectStoreConfig } from '../config/index.ts';
import type { ObjectStore } from '../storage/object/object-store.ts';
import { S3ObjectStore } from '../storage/object/s3-object-store.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';

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
  // Fail fast with a message naming the settings when the bucket is unreachable or missing.
  try {
    for await (const _ of store.list('')) break;
  } catch (error) {
    await store.close();
    throw new KafscaleError(
      'KSC_OBJECT_UNAVAILABLE',
      `S3 bucket ${config.bucket} at ${config.endpoint ?? `the AWS endpoint of ${config.region}`} is unreachable (KAFSCALE_S3_BUCKET, KAFSCALE_S3_ENDPOINT, KAFSCALE_S3_REGION): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  log.debug({ bucket: config.bucket }, 'S3 object store reachable');
  return store;
}
