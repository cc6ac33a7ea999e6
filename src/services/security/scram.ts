/**
 * SCRAM (RFC 5802, RFC 7677) as Kafka implements it: SCRAM-SHA-256 and SCRAM-SHA-512, no channel
 * binding, iterations 4096–16384. The broker stores only salt, iterations, StoredKey and ServerKey —
 * never the password or the salted password.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { KafscaleError } from '../../errors/kafscale-error.ts';

export const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type ScramMechanism = (typeof SCRAM_MECHANISMS)[number];

/** Kafka's ScramMechanism enum as DescribeUserScramCredentials / AlterUserScramCredentials send it. */
export const SCRAM_MECHANISM_IDS: Readonly<Record<ScramMechanism, number>> = { 'SCRAM-SHA-256': 1, 'SCRAM-SHA-512': 2 };

/** Kafka's bounds (ScramMechanism.minIterations / maxIterations). */
export const MIN_SCRAM_ITERATIONS = 4096;
export const MAX_SCRAM_ITERATIONS = 16384;
export const DEFAULT_SCRAM_ITERATIONS = 8192;

const DIGEST: Readonly<Record<ScramMechanism, { readonly hash: 'sha256' | 'sha512'; readonly bytes: number }>> = {
  'SCRAM-SHA-256': { hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { hash: 'sha512', bytes: 64 },
};

export function isScramMechanism(name: string): name is ScramMechanism {
  return (SCRAM_MECHANISMS as readonly string[]).includes(name);
}

export function scramMechanismById(id: number): ScramMechanism | undefined {
  return SCRAM_MECHANISMS.find((m) => SCRAM_MECHANISM_IDS[m] === id);
}

/** What the metadata store holds per (user, mechanism). */
export interface ScramCredential {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

export function hmac(mechanism: ScramMechanism, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(DIGEST[mechanism].hash, key).update(data).digest();
}

function hash(mechanism: ScramMechanism, data: Buffer): Buffer {
  return createHash(DIGEST[mechanism].hash).update(data).digest();
}

/** Hi(password, salt, i) of RFC 5802: PBKDF2 with the mechanism's HMAC. */
export function saltPassword(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Buffer {
  // SASLprep is not applied (neither does Kafka's ScramFormatter): the UTF-8 bytes are hashed as given.
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, DIGEST[mechanism].bytes, DIGEST[mechanism].hash);
}

/** Derives what the broker keeps from a salted password (AlterUserScramCredentials sends one). */
export function credentialFromSaltedPassword(mechanism: ScramMechanism, saltedPassword: Buffer, salt: Buffer, iterations: number): ScramCredential {
  const clientKey = hmac(mechanism, saltedPassword, 'Client Key');
  return {
    salt,
    iterations,
    storedKey: hash(mechanism, clientKey),
    serverKey: hmac(mechanism, saltedPassword, 'Server Key'),
  };
}

export function createScramCredential(mechanism: ScramMechanism, password: string, iterations: number = DEFAULT_SCRAM_ITERATIONS): ScramCredential {
  const salt = randomBytes(32);
  return credentialFromSaltedPassword(mechanism, saltPassword(mechanism, password, salt, iterations), salt, iterations);
}

/** True when `password` produces this credential's StoredKey (PLAIN checks passwords this way). */
export function verifyPassword(mechanism: ScramMechanism, credential: ScramCredential, password: string): boolean {
  const derived = credentialFromSaltedPassword(mechanism, saltPassword(mechanism, password, credential.salt, credential.iterations), credential.salt, credential.iterations);
  return derived.storedKey.length === credential.storedKey.length && timingSafeEqual(derived.storedKey, credential.storedKey);
}

/** Result of one step of a server-side exchange. */
export type ScramStep =
  | { readonly kind: 'challenge'; readonly response: Buffer }
  | { readonly kind: 'success'; readonly response: Buffer; readonly user: string }
  /** `reason` is for the broker's log only; the client gets one message whatever failed. */
  | { readonly kind: 'failure'; readonly reason: string };

/** Looks a user's credential up; undefined for an unknown user. */
export type CredentialLookup = (user: string, mechanism: ScramMechanism) => ScramCredential | undefined;

/**
 * The server side of one SCRAM exchange: client-first → server-first, client-final → server-final.
 * An unknown user gets a server-first message with a salt derived from the user name and a per-process
 * secret, exactly like a known one, and fails only at the proof — so the exchange does not tell whether
 * the user exists.
 */
export class ScramServerExchange {
  readonly mechanism: ScramMechanism;
  readonly #lookup: CredentialLookup;
  readonly #fakeSaltKey: Buffer;
  #stage: 'first' | 'final' | 'done';
  #user: string;
  #credential: ScramCredential | undefined;
  #nonce: string;
  #clientFirstBare: string;
  #serverFirst: string;
  #gs2Header: string;

  constructor(mechanism: ScramMechanism, lookup: CredentialLookup, fakeSaltKey: Buffer) {
    this.mechanism = mechanism;
    this.#lookup = lookup;
    this.#fakeSaltKey = fakeSaltKey;
    this.#stage = 'first';
    this.#user = '';
    this.#credential = undefined;
    this.#nonce = '';
    this.#clientFirstBare = '';
    this.#serverFirst = '';
    this.#gs2Header = '';
  }

  get done(): boolean {
    return this.#stage === 'done';
  }

  step(message: Buffer): ScramStep {
    const stage = this.#stage;
    // Whatever happens, a failed or finished exchange accepts nothing more.
    this.#stage = 'done';
    if (stage === 'first') return this.#clientFirst(message);
    if (stage === 'final') return this.#clientFinal(message);
    return { kind: 'failure', reason: 'SCRAM exchange already finished' };
  }

  #clientFirst(message: Buffer): ScramStep {
    const text = decodeUtf8(message);
    if (text === null) return { kind: 'failure', reason: 'client-first message is not UTF-8' };
    // gs2-header: gs2-cbind-flag "," [authzid] ","; Kafka (and we) support no channel binding.
    const match = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(text);
    if (match === null) return { kind: 'failure', reason: 'client-first message: invalid or unsupported GS2 header (channel binding is not supported)' };
    const bare = match[3] as string;
    const attributes = parseAttributes(bare);
    if (attributes === null) return { kind: 'failure', reason: 'client-first message: malformed attributes' };
    const name = attributes.get('n');
    const clientNonce = attributes.get('r');
    if (name === undefined || clientNonce === undefined || clientNonce === '' || !/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) {
      return { kind: 'failure', reason: 'client-first message: missing user name or nonce' };
    }
    // Extensions (Kafka: tokenauth=true for delegation tokens) are not supported.
    for (const key of attributes.keys()) if (key !== 'n' && key !== 'r') return { kind: 'failure', reason: `client-first message: unsupported extension ${key.slice(0, 20)}` };
    const user = unescapeUsername(name);
    if (user === null || user === '') return { kind: 'failure', reason: 'client-first message: invalid user name encoding' };
    const authzid = match[2]?.slice(2);
    if (authzid !== undefined && authzid !== '' && unescapeUsername(authzid) !== user) {
      return { kind: 'failure', reason: 'client-first message: authorization id differs from the user name' };
    }
    this.#user = user;
    this.#credential = this.#lookup(user, this.mechanism);
    const salt = this.#credential?.salt ?? hmac(this.mechanism, this.#fakeSaltKey, user).subarray(0, 32);
    const iterations = this.#credential?.iterations ?? DEFAULT_SCRAM_ITERATIONS;
    this.#nonce = clientNonce + randomBytes(24).toString('base64url');
    this.#gs2Header = `${match[1] as string},${match[2] ?? ''},`;
    this.#clientFirstBare = bare;
    this.#serverFirst = `r=${this.#nonce},s=${salt.toString('base64')},i=${iterations}`;
    this.#stage = 'final';
    return { kind: 'challenge', response: Buffer.from(this.#serverFirst, 'utf8') };
  }

  #clientFinal(message: Buffer): ScramStep {
    const text = decodeUtf8(message);
    if (text === null) return { kind: 'failure', reason: 'client-final message is not UTF-8' };
    const proofAt = text.lastIndexOf(',p=');
    if (proofAt < 0) return { kind: 'failure', reason: 'client-final message: no proof' };
    const withoutProof = text.slice(0, proofAt);
    const attributes = parseAttributes(withoutProof);
    if (attributes === null) return { kind: 'failure', reason: 'client-final message: malformed attributes' };
    const channelBinding = attributes.get('c');
    if (channelBinding !== Buffer.from(this.#gs2Header, 'utf8').toString('base64')) return { kind: 'failure', reason: 'client-final message: channel binding does not match the GS2 header' };
    // Kafka's ScramSaslServer accepts a nonce that ENDS with the server's: librdkafka (at least through
    // 2.x) sends its client nonce followed by the whole server nonce, which already starts with it.
    const nonce = attributes.get('r');
    if (nonce === undefined || !nonce.endsWith(this.#nonce)) return { kind: 'failure', reason: 'client-final message: nonce does not match' };
    const proof = Buffer.from(text.slice(proofAt + 3), 'base64');
    const credential = this.#credential;
    if (credential === undefined) return { kind: 'failure', reason: 'unknown user' };
    if (proof.length !== credential.storedKey.length) return { kind: 'failure', reason: 'client proof has the wrong length' };
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.mechanism, credential.storedKey, authMessage);
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = (proof[i] as number) ^ (clientSignature[i] as number);
    if (!timingSafeEqual(hash(this.mechanism, clientKey), credential.storedKey)) return { kind: 'failure', reason: 'invalid client proof' };
    const serverSignature = hmac(this.mechanism, credential.serverKey, authMessage);
    return { kind: 'success', response: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'), user: this.#user };
  }
}

function decodeUtf8(bytes: Buffer): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** `k=v,k=v` with one-letter keys; null when malformed or a key repeats. */
function parseAttributes(text: string): Map<string, string> | null {
  const attributes = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 1) return null;
    const key = part.slice(0, eq);
    if (attributes.has(key)) return null;
    attributes.set(key, part.slice(eq + 1));
  }
  return attributes;
}

/** RFC 5802 saslname: '=2C' is ',' and '=3D' is '='; any other '=' is invalid. */
function unescapeUsername(name: string): string | null {
  if (/=(?!2C|3D)/.test(name)) return null;
  return name.replaceAll('=2C', ',').replaceAll('=3D', '=');
}

/** The client side of the same exchange; the CLI and tests use it. */
export class ScramClientExchange {
  readonly mechanism: ScramMechanism;
  readonly #user: string;
  readonly #password: string;
  readonly #clientNonce: string;
  #clientFirstBare = '';
  #serverSignature: Buffer = Buffer.alloc(0);

  constructor(mechanism: ScramMechanism, user: string, password: string, clientNonce: string = randomBytes(24).toString('base64url')) {
    this.mechanism = mechanism;
    this.#user = user;
    this.#password = password;
    this.#clientNonce = clientNonce;
  }

  first(): Buffer {
    this.#clientFirstBare = `n=${this.#user.replaceAll('=', '=3D').replaceAll(',', '=2C')},r=${this.#clientNonce}`;
    return Buffer.from(`n,,${this.#clientFirstBare}`, 'utf8');
  }

  /** `tamper` lets negative tests send a wrong nonce or proof. */
  final(serverFirst: Buffer, tamper: { nonce?: string; proof?: Buffer } = {}): Buffer {
    const attributes = parseAttributes(serverFirst.toString('utf8'));
    const nonce = attributes?.get('r');
    const salt = attributes?.get('s');
    const iterations = Number(attributes?.get('i'));
    if (nonce === undefined || salt === undefined || !Number.isInteger(iterations) || !nonce.startsWith(this.#clientNonce)) {
      throw new KafscaleError('KSC_PROTOCOL_MALFORMED', 'invalid SCRAM server-first message');
    }
    const saltedPassword = saltPassword(this.mechanism, this.#password, Buffer.from(salt, 'base64'), iterations);
    const clientKey = hmac(this.mechanism, saltedPassword, 'Client Key');
    const storedKey = hash(this.mechanism, clientKey);
    const withoutProof = `c=biws,r=${tamper.nonce ?? nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst.toString('utf8')},${withoutProof}`;
    const clientSignature = hmac(this.mechanism, storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < clientKey.length; i++) proof[i] = (clientKey[i] as number) ^ (clientSignature[i] as number);
    this.#serverSignature = hmac(this.mechanism, hmac(this.mechanism, saltedPassword, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${(tamper.proof ?? proof).toString('base64')}`, 'utf8');
  }

  /** True when the server-final message proves the server knows the credential. */
  verifyServerFinal(serverFinal: Buffer): boolean {
    const expected = Buffer.from(`v=${this.#serverSignature.toString('base64')}`, 'utf8');
    return serverFinal.length === expected.length && timingSafeEqual(serverFinal, expected);
  }
}
