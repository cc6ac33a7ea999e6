/**
 * The client side of SASL PLAIN and SCRAM-SHA-256/512 (RFC 5802, RFC 7677, as Kafka runs them), for
 * kafscale's own clients: the CLI and the proxy's connections to brokers.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { KafscaleError } from '../errors/kafscale-error.ts';
import { ProtocolError } from './protocol-error.ts';

export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface SaslCredentials {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

/**
 * The client side of one SASL exchange: `first()` is the first token; `next(serverToken)` the
 * following one, or null when the exchange is complete (it throws when the server's final message does
 * not prove it knows the credential). Kept apart from the broker's SCRAM server (src/services/security):
 * the CLI and the proxy may not import services.
 */
export class SaslClientExchange {
  readonly #sasl: SaslCredentials;
  readonly #nonce = randomBytes(24).toString('base64url');
  #step = 0;
  #clientFirstBare = '';
  #serverSignature: Buffer = Buffer.alloc(0);

  constructor(sasl: SaslCredentials) {
    this.#sasl = sasl;
  }

  first(): Buffer {
    const { mechanism, username, password } = this.#sasl;
    if (mechanism === 'PLAIN') return Buffer.from(`\0${username}\0${password}`, 'utf8');
    this.#clientFirstBare = `n=${username.replaceAll('=', '=3D').replaceAll(',', '=2C')},r=${this.#nonce}`;
    return Buffer.from(`n,,${this.#clientFirstBare}`, 'utf8');
  }

  next(server: Buffer): Buffer | null {
    const { mechanism, password } = this.#sasl;
    if (mechanism === 'PLAIN') return null;
    const hash = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
    const hmac = (key: Buffer, data: string): Buffer => createHmac(hash, key).update(data).digest();
    if (this.#step++ === 0) {
      const attributes = new Map(server.toString('utf8').split(',').map((p) => [p.slice(0, 1), p.slice(2)] as const));
      const nonce = attributes.get('r') ?? '';
      const salt = Buffer.from(attributes.get('s') ?? '', 'base64');
      const iterations = Number(attributes.get('i'));
      if (!nonce.startsWith(this.#nonce) || salt.length === 0 || !Number.isInteger(iterations) || iterations < 4096) throw new ProtocolError('KSC_PROTOCOL_MALFORMED', 'invalid SCRAM server-first message');
      const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, hash === 'sha256' ? 32 : 64, hash);
      const clientKey = hmac(salted, 'Client Key');
      const withoutProof = `c=biws,r=${nonce}`;
      const authMessage = `${this.#clientFirstBare},${server.toString('utf8')},${withoutProof}`;
      const signature = hmac(createHash(hash).update(clientKey).digest(), authMessage);
      const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] as number)));
      this.#serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
      return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
    }
    const expected = Buffer.from(`v=${this.#serverSignature.toString('base64')}`, 'utf8');
    if (server.length !== expected.length || !timingSafeEqual(server, expected)) throw new KafscaleError('KSC_SASL_FAILED', 'the broker could not prove it knows the SCRAM credential (server signature mismatch)');
    return null;
  }
}
