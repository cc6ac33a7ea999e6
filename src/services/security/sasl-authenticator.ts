/**
 * Server-side SASL mechanisms: PLAIN (RFC 4616) and SCRAM-SHA-256/512, all checked against the SCRAM
 * credentials in the metadata store. One exchange per authentication attempt; the SASL handlers drive
 * it and turn its outcome into Kafka responses.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_SCRAM_ITERATIONS, isScramMechanism, saltPassword, ScramServerExchange, verifyPassword, type CredentialLookup, type ScramStep } from './scram.ts';

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface SaslExchange {
  readonly mechanism: string;
  step(message: Buffer): ScramStep;
}

/** Called once per finished attempt (metrics); never with a password or a user name. */
export type AuthenticationObserver = (mechanism: string, outcome: 'success' | 'failure') => void;

export class SaslAuthenticator {
  readonly #lookup: CredentialLookup;
  readonly #observe: AuthenticationObserver;
  /** Per process: derives stable fake salts for unknown users (an unknown user looks like a known one). */
  readonly #fakeSaltKey: Buffer;

  constructor(lookup: CredentialLookup, observe: AuthenticationObserver = () => {}) {
    this.#lookup = lookup;
    this.#observe = observe;
    this.#fakeSaltKey = randomBytes(32);
  }

  /** An exchange for a mechanism name; undefined when kafscale does not implement it. */
  start(mechanism: string): SaslExchange | undefined {
    if (mechanism === 'PLAIN') return new PlainServerExchange(this.#lookup, this.#fakeSaltKey);
    if (isScramMechanism(mechanism)) return new ScramServerExchange(mechanism, this.#lookup, this.#fakeSaltKey);
    return undefined;
  }

  observe(mechanism: string, outcome: 'success' | 'failure'): void {
    this.#observe(mechanism, outcome);
  }
}

/**
 * PLAIN: one message `authzid NUL authcid NUL password`. The password is checked by deriving the
 * stored SCRAM key from it (SCRAM-SHA-512 first, then SCRAM-SHA-256); an unknown user costs the same
 * key derivation, so timing does not tell whether the user exists.
 */
export class PlainServerExchange implements SaslExchange {
  readonly mechanism = 'PLAIN';
  readonly #lookup: CredentialLookup;
  readonly #fakeSaltKey: Buffer;
  #done = false;

  constructor(lookup: CredentialLookup, fakeSaltKey: Buffer) {
    this.#lookup = lookup;
    this.#fakeSaltKey = fakeSaltKey;
  }

  step(message: Buffer): ScramStep {
    if (this.#done) return { kind: 'failure', reason: 'PLAIN exchange already finished' };
    this.#done = true;
    const parts = splitNul(message);
    if (parts === null) return { kind: 'failure', reason: 'PLAIN message must be authzid NUL user NUL password (exactly two NULs)' };
    const [authzid, user, password] = parts;
    if (user === '' || password === '') return { kind: 'failure', reason: 'PLAIN message with an empty user name or password' };
    if (authzid !== '' && authzid !== user) return { kind: 'failure', reason: 'PLAIN authorization id differs from the user name' };
    for (const mechanism of ['SCRAM-SHA-512', 'SCRAM-SHA-256'] as const) {
      const credential = this.#lookup(user, mechanism);
      if (credential === undefined) continue;
      return verifyPassword(mechanism, credential, password) ? { kind: 'success', response: Buffer.alloc(0), user } : { kind: 'failure', reason: 'invalid password' };
    }
    saltPassword('SCRAM-SHA-512', password, this.#fakeSaltKey, DEFAULT_SCRAM_ITERATIONS);
    return { kind: 'failure', reason: 'unknown user' };
  }
}

/** Exactly three UTF-8 fields separated by two NULs; null otherwise. */
function splitNul(message: Buffer): [string, string, string] | null {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(message);
  } catch {
    return null;
  }
  const parts = text.split('\0');
  if (parts.length !== 3) return null;
  return parts as [string, string, string];
}
