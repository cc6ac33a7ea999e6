/** Public face of the security services: ACLs and their authorizer, SASL and SCRAM credentials. */
export * from './acl.ts';
export { AclStore } from './acl-store.ts';
export { AclAuthorizer, ALLOW_ALL, type AclAuthorizerOptions, type Authorizer, type Requester } from './acl-authorizer.ts';
export { SaslAuthenticator, SASL_MECHANISMS, type SaslExchange, type SaslMechanism } from './sasl-authenticator.ts';
export {
  createScramCredential,
  credentialFromSaltedPassword,
  MAX_SCRAM_ITERATIONS,
  MIN_SCRAM_ITERATIONS,
  SCRAM_MECHANISM_IDS,
  SCRAM_MECHANISMS,
  scramMechanismById,
  type ScramCredential,
  type ScramMechanism,
} from './scram.ts';
export type { SecurityServices } from './security-services.ts';
