import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { EtcdMetadataStoreConfig } from '../config/index.ts';
import { EtcdMetadataStore } from '../storage/meta/etcd-metadata-store.ts';
import type { MetadataStore } from '../storage/meta/metadata-store.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';

/** Every etcd call is bounded; a dead etcd answers with retriable errors within this time. */
const ETCD_REQUEST_TIMEOUT_MS = 5_000;

/** Loaded only when etcd is configured, so a single-node broker never loads the gRPC stack. */
export async function openEtcdMetadataStore(config: EtcdMetadataStoreConfig, log: Logger): Promise<MetadataStore> {
  let tls: { ca: Buffer; cert?: Buffer; key?: Buffer } | undefined;
  if (config.tls !== null) {
    const read = async (what: string, path: string | null): Promise<Buffer | undefined> => {
      if (path === null) return undefined;
      try {
        return await readFile(path);
      } catch (error) {
        throw new KafscaleError('KSC_CONFIG_INVALID', `cannot read the etcd TLS ${what} file ${path} (KAFSCALE_ETCD_${what.toUpperCase()}_FILE)`, { cause: error });
      }
    };
    const ca = await read('ca', config.tls.caFile);
    const cert = await read('cert', config.tls.certFile);
    const key = await read('key', config.tls.keyFile);
    if (ca === undefined) throw new KafscaleError('KSC_CONFIG_INVALID', 'etcd TLS needs a CA file (KAFSCALE_ETCD_CA_FILE)');
    tls = { ca, ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) };
  }
  // connect() makes one call to etcd, so a broker fails fast at start-up, with a message naming the
  // settings to fix, rather than on its first request.
  try {
    return await EtcdMetadataStore.connect({
      endpoints: config.endpoints,
      ...(config.auth === null ? {} : { username: config.auth.username, password: config.auth.password }),
      ...(tls === undefined ? {} : { tls }),
      requestTimeoutMs: ETCD_REQUEST_TIMEOUT_MS,
      log,
    });
  } catch (error) {
    throw namingSettings(error, config);
  }
}

function namingSettings(error: unknown, config: EtcdMetadataStoreConfig): KafscaleError {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof KafscaleError && error.code === 'KSC_META_AUTH_FAILED') {
    return new KafscaleError(error.code, `${message} (settings KAFSCALE_ETCD_USERNAME and KAFSCALE_ETCD_PASSWORD)`, { cause: error });
  }
  if (error instanceof KafscaleError && error.code === 'KSC_META_TLS_FAILED') {
    return new KafscaleError(error.code, `${message} (settings KAFSCALE_ETCD_CA_FILE, KAFSCALE_ETCD_CERT_FILE, KAFSCALE_ETCD_KEY_FILE and the scheme in KAFSCALE_ETCD_ENDPOINTS)`, { cause: error });
  }
  const retriable = error instanceof KafscaleError && error.retriable;
  return new KafscaleError('KSC_META_UNAVAILABLE', `etcd at ${config.endpoints.join(',')} (KAFSCALE_ETCD_ENDPOINTS) is unreachable: ${message}`, { cause: error, retriable });
}
