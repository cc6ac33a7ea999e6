import type { SaslAuthenticator } from './sasl-authenticator.ts';
import type { ScramCredentialStore } from './scram-credential-store.ts';

/** What the SASL and SCRAM-admin handlers use; built once by the app. */
export interface SecurityServices {
  readonly credentials: ScramCredentialStore;
  readonly authenticator: SaslAuthenticator;
  /** connection.failed.authentication.delay.ms: a failed authentication is answered this much later. */
  readonly authFailureDelayMs: number;
  /** connections.max.reauth.ms (KIP-368); 0: sessions never expire. */
  readonly connectionsMaxReauthMs: number;
}
