/**
 * Does the server at an endpoint speak TLS? Asked directly, with a TLS handshake that trusts any
 * certificate, when the first call to etcd fails: the hint "use http://" or "use https://" then depends
 * on what the server is, not on which error a loaded gRPC stack happened to report (a TLS message, a
 * reset or a timeout; issue 15, item 8).
 *
 *   'tls'      the handshake completed, or the server answered with a TLS alert (it wants a client
 *              certificate, say): it speaks TLS;
 *   'plain'    the TCP connection opened but the server answered the ClientHello with bytes that are
 *              not TLS, or hung up on it: it does not speak TLS;
 *   'unknown'  nothing listens, or no answer within the time given.
 */
import { isIP } from 'node:net';
import { connect } from 'node:tls';

export type TlsProbeResult = 'tls' | 'plain' | 'unknown';

const ETCD_DEFAULT_PORT = 2379;

/** OpenSSL's codes for a TLS alert from the peer: only a TLS server sends one. */
const TLS_ALERT = /ALERT|alert/;

export async function probeTls(endpoint: string, timeoutMs: number): Promise<TlsProbeResult> {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'unknown';
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? ETCD_DEFAULT_PORT : Number(url.port);
  return await new Promise<TlsProbeResult>((resolve) => {
    let connected = false;
    const socket = connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'], ...(isIP(host) === 0 ? { servername: host } : {}) });
    const done = (result: TlsProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('unknown'), timeoutMs);
    socket.once('connect', () => {
      connected = true;
    });
    socket.once('secureConnect', () => done('tls'));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (TLS_ALERT.test(`${error.code ?? ''} ${error.message}`)) done('tls');
      else done(connected ? 'plain' : 'unknown');
    });
    socket.once('close', () => done(connected ? 'plain' : 'unknown'));
  });
}
