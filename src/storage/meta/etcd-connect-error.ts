/**
 * What a failing first call to etcd means: configuration (credentials, certificates, http vs https)
 * gets its own error that says what to fix; an outage keeps its retriable code.
 */
import { EtcdAuthenticationFailedError, EtcdInvalidAuthTokenError, EtcdPermissionDeniedError } from 'etcd3';
import { isKafscaleError, KafscaleError } from '../../telemetry/kafscale-error.ts';
import type { EtcdMetadataStoreOptions } from './etcd-metadata-store.ts';
import { probeTls } from './tls-probe.ts';

/** Bounds the TLS question asked after a failed connect (a handshake takes milliseconds). */
const TLS_PROBE_TIMEOUT_MS = 500;

/** OpenSSL/Node wording of a refused or unverifiable certificate (alert 42 bad_certificate, 116 certificate_required). */
const CLIENT_CERT_REFUSED = /bad certificate|certificate required|alert number (42|116)/i;
const SERVER_CERT_UNTRUSTED = /unable to verify|self[- ]signed|certificate (has expired|is not yet valid)|unable to get (local )?issuer|Hostname\/IP does not match/i;

/**
 * A failing first call is usually configuration, not an outage: wrong credentials or certificates
 * never heal by retrying, so they get their own non-retriable codes and say what to fix. Anything
 * else keeps the retriable code it had (etcd may just not be up yet).
 */
export async function connectError(error: unknown, options: EtcdMetadataStoreOptions): Promise<unknown> {
  const cause = error instanceof KafscaleError && error.cause !== undefined ? error.cause : error;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const where = options.endpoints.join(',');
  if (cause instanceof EtcdAuthenticationFailedError) {
    return new KafscaleError('KSC_META_AUTH_FAILED', `etcd at ${where} rejected user "${options.username ?? ''}": wrong user name or password (${detail}); fix the etcd username and password`, { cause: error });
  }
  if (cause instanceof EtcdPermissionDeniedError || cause instanceof EtcdInvalidAuthTokenError) {
    const why = options.username === undefined
      ? 'etcd has authentication enabled and no username/password was given'
      : `user "${options.username}" may not read the key range of namespace "${options.namespace ?? ''}"; grant one of its roles readwrite on it`;
    return new KafscaleError('KSC_META_AUTH_FAILED', `etcd at ${where} denied access (${detail}): ${why}`, { cause: error });
  }
  if (CLIENT_CERT_REFUSED.test(detail)) {
    const why = options.tls?.cert === undefined
      ? 'etcd requires a client certificate and none was given; set a client certificate and key'
      : 'etcd refused the client certificate; it must be signed by a CA in etcd\'s --trusted-ca-file';
    return new KafscaleError('KSC_META_TLS_FAILED', `TLS handshake with etcd at ${where} failed: ${why} (${detail.trim()})`, { cause: error });
  }
  if (SERVER_CERT_UNTRUSTED.test(detail) && options.endpoints.some((endpoint) => endpoint.startsWith('https://'))) {
    const why = options.tls === undefined ? 'no CA was given to verify the etcd server certificate' : 'the etcd server certificate does not verify against the given CA (or is not issued for this host)';
    return new KafscaleError('KSC_META_TLS_FAILED', `TLS handshake with etcd at ${where} failed: ${why} (${detail.trim()})`, { cause: error });
  }
  if (isKafscaleError(error) && (error.code === 'KSC_META_UNAVAILABLE' || error.code === 'KSC_META_TIMEOUT') && !/ECONNREFUSED/.test(detail)) {
    // Something listens but did not answer gRPC. Whether it speaks TLS was asked directly (probeTls),
    // so the hint does not depend on which error the load produced (issue 15, item 8). The error stays
    // retriable and only gains a hint.
    const served = await probeTls(options.endpoints[0] ?? '', Math.min(options.requestTimeoutMs, TLS_PROBE_TIMEOUT_MS));
    if (served !== 'plain' && options.endpoints.every((endpoint) => endpoint.startsWith('http://'))) {
      return new KafscaleError(error.code, `${error.message}; if etcd serves TLS, use https:// endpoints and give its CA`, { cause: error.cause, retriable: error.retriable });
    }
    if (served !== 'tls' && options.endpoints.every((endpoint) => endpoint.startsWith('https://'))) {
      return new KafscaleError(error.code, `${error.message}; if etcd does not serve TLS, use http:// endpoints`, { cause: error.cause, retriable: error.retriable });
    }
  }
  return error;
}
