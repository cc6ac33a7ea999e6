/**
 * Checks a console login's password against the stored SCRAM credential without blocking the event
 * loop: SaltedPassword = PBKDF2(password, stored salt, stored iterations) on libuv's thread pool, then
 * StoredKey = H(HMAC(SaltedPassword, "Client Key")) compared in constant time (RFC 5802, as
 * scram.ts's verifyPassword, which runs synchronously — fine for PLAIN on a connection, not for an HTTP
 * endpoint anyone can call). At most MAX_CONCURRENT checks run at once; more are refused (503).
 */
import { pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { credentialFromSaltedPassword, type ScramCredential, type ScramMechanism } from '../services/security/index.ts';
import { ConsoleError } from './console-error.ts';

const pbkdf2Async = promisify(pbkdf2);

const DIGEST: Readonly<Record<ScramMechanism, { readonly hash: 'sha256' | 'sha512'; readonly bytes: number }>> = {
  'SCRAM-SHA-256': { hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { hash: 'sha512', bytes: 64 },
};

/** Password checks in flight at once; each takes the thread pool for a few milliseconds. */
export const MAX_CONCURRENT_CHECKS = 8;

let inFlight = 0;

export async function passwordMatches(mechanism: ScramMechanism, credential: ScramCredential, password: string): Promise<boolean> {
  if (inFlight >= MAX_CONCURRENT_CHECKS) throw new ConsoleError(503, `too many console logins at once (at most ${MAX_CONCURRENT_CHECKS}); try again in a moment`);
  inFlight++;
  try {
    const { hash, bytes } = DIGEST[mechanism];
    const salted = await pbkdf2Async(Buffer.from(password, 'utf8'), credential.salt, credential.iterations, bytes, hash);
    const derived = credentialFromSaltedPassword(mechanism, salted, credential.salt, credential.iterations);
    return derived.storedKey.length === credential.storedKey.length && timingSafeEqual(derived.storedKey, credential.storedKey);
  } finally {
    inFlight--;
  }
}
