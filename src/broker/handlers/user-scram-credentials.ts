/**
 * DescribeUserScramCredentials (50) and AlterUserScramCredentials (51), v0, with Kafka's per-user
 * rules: a user named twice gets DUPLICATE_RESOURCE, an unknown user RESOURCE_NOT_FOUND, iterations
 * outside 4096–16384 UNACCEPTABLE_CREDENTIAL; a user's changes apply all together or not at all.
 * The client sends the salted password; the broker keeps only StoredKey and ServerKey derived from it.
 * Authorization as Kafka: DESCRIBE on the cluster to describe, ALTER on the cluster to alter.
 */
import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import {
  credentialFromSaltedPassword,
  MAX_SCRAM_ITERATIONS,
  MIN_SCRAM_ITERATIONS,
  SCRAM_MECHANISM_IDS,
  scramMechanismById,
  type ScramMechanism,
} from '../../services/security/index.ts';
import { defineApi } from '../api-handler.ts';
import { clusterAllowed, Op } from './authorize.ts';

const DIGEST_BYTES: Readonly<Record<ScramMechanism, number>> = { 'SCRAM-SHA-256': 32, 'SCRAM-SHA-512': 64 };

export const describeUserScramCredentialsApi = defineApi({
  apiKey: ApiKey.DescribeUserScramCredentials,
  name: 'DescribeUserScramCredentials',
  minVersion: 0,
  maxVersion: 0,
  async handle(request, context) {
    if (!clusterAllowed(context, Op.DESCRIBE)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'DESCRIBE on the cluster is required to describe SCRAM credentials', results: [] };
    }
    const known = new Map(context.services.security.credentials.users().map((u) => [u.user, u]));
    const infos = (user: string) => (known.get(user)?.mechanisms ?? []).map((m) => ({ mechanism: SCRAM_MECHANISM_IDS[m.mechanism], iterations: m.iterations }));
    if (request.users === null || request.users.length === 0) {
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        results: [...known.keys()].map((user) => ({ user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos: infos(user) })),
      };
    }
    const counts = new Map<string, number>();
    for (const { name } of request.users) counts.set(name, (counts.get(name) ?? 0) + 1);
    const results = [...counts.entries()].map(([user, count]) => {
      if (count > 1) return { user, errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: `Cannot describe SCRAM credentials for the same user twice in a single request: ${user}`, credentialInfos: [] };
      if (!known.has(user)) return { user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: `Attempt to describe a user credential that does not exist: ${user}`, credentialInfos: [] };
      return { user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos: infos(user) };
    });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
  },
  errorResponse(_request, errorCode, errorMessage) {
    return { throttleTimeMs: 0, errorCode, errorMessage, results: [] };
  },
});

interface UserChange {
  readonly deletions: ScramMechanism[];
  readonly upsertions: Array<{ mechanism: ScramMechanism; iterations: number; salt: Buffer; saltedPassword: Buffer }>;
  error: { code: number; message: string } | null;
}

export const alterUserScramCredentialsApi = defineApi({
  apiKey: ApiKey.AlterUserScramCredentials,
  name: 'AlterUserScramCredentials',
  minVersion: 0,
  maxVersion: 0,
  async handle(request, context) {
    if (!clusterAllowed(context, Op.ALTER)) {
      const users = new Set([...request.deletions.map((d) => d.name), ...request.upsertions.map((u) => u.name)]);
      const errorMessage = 'ALTER on the cluster is required to alter SCRAM credentials';
      return { throttleTimeMs: 0, results: [...users].map((user) => ({ user, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage })) };
    }
    const { credentials } = context.services.security;
    const byUser = new Map<string, UserChange>();
    const changeOf = (user: string): UserChange => {
      let change = byUser.get(user);
      if (change === undefined) {
        change = { deletions: [], upsertions: [], error: null };
        byUser.set(user, change);
      }
      return change;
    };
    const fail = (change: UserChange, code: number, message: string): void => {
      change.error ??= { code, message };
    };
    const seen = new Set<string>();
    const checkDuplicate = (change: UserChange, user: string, mechanismId: number): void => {
      const key = `${mechanismId}\0${user}`;
      if (seen.has(key)) fail(change, ErrorCode.DUPLICATE_RESOURCE, `A user credential cannot be altered twice in the same request: ${user}`);
      seen.add(key);
    };
    for (const deletion of request.deletions) {
      const change = changeOf(deletion.name);
      checkDuplicate(change, deletion.name, deletion.mechanism);
      const mechanism = scramMechanismById(deletion.mechanism);
      if (deletion.name === '') fail(change, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty');
      else if (mechanism === undefined) fail(change, ErrorCode.UNSUPPORTED_SASL_MECHANISM, `Unknown SCRAM mechanism ${deletion.mechanism}`);
      else if (credentials.lookup(deletion.name, mechanism) === undefined) fail(change, ErrorCode.RESOURCE_NOT_FOUND, `Attempt to delete a user credential that does not exist: ${deletion.name} (${mechanism})`);
      else change.deletions.push(mechanism);
    }
    for (const upsertion of request.upsertions) {
      const change = changeOf(upsertion.name);
      checkDuplicate(change, upsertion.name, upsertion.mechanism);
      const mechanism = scramMechanismById(upsertion.mechanism);
      if (upsertion.name === '') fail(change, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty');
      else if (mechanism === undefined) fail(change, ErrorCode.UNSUPPORTED_SASL_MECHANISM, `Unknown SCRAM mechanism ${upsertion.mechanism}`);
      else if (upsertion.iterations < MIN_SCRAM_ITERATIONS) fail(change, ErrorCode.UNACCEPTABLE_CREDENTIAL, `Too few iterations: ${upsertion.iterations} (at least ${MIN_SCRAM_ITERATIONS})`);
      else if (upsertion.iterations > MAX_SCRAM_ITERATIONS) fail(change, ErrorCode.UNACCEPTABLE_CREDENTIAL, `Too many iterations: ${upsertion.iterations} (at most ${MAX_SCRAM_ITERATIONS})`);
      else if (upsertion.salt.length === 0) fail(change, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Salt must not be empty');
      else if (upsertion.saltedPassword.length !== DIGEST_BYTES[mechanism]) fail(change, ErrorCode.UNACCEPTABLE_CREDENTIAL, `Salted password must be ${DIGEST_BYTES[mechanism]} bytes for ${mechanism}`);
      else change.upsertions.push({ mechanism, iterations: upsertion.iterations, salt: Buffer.from(upsertion.salt), saltedPassword: upsertion.saltedPassword });
    }
    const results = [];
    for (const [user, change] of byUser) {
      if (change.error !== null) {
        results.push({ user, errorCode: change.error.code, errorMessage: change.error.message });
        continue;
      }
      for (const mechanism of change.deletions) await credentials.delete(user, mechanism);
      for (const u of change.upsertions) await credentials.upsert(user, u.mechanism, credentialFromSaltedPassword(u.mechanism, u.saltedPassword, u.salt, u.iterations));
      context.log.info({ user, upserted: change.upsertions.map((u) => u.mechanism), deleted: change.deletions, principal: context.principal }, 'SCRAM credentials altered');
      results.push({ user, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    return { throttleTimeMs: 0, results };
  },
  errorResponse(request, errorCode, errorMessage) {
    const users = new Set([...request.deletions.map((d) => d.name), ...request.upsertions.map((u) => u.name)]);
    return { throttleTimeMs: 0, results: [...users].map((user) => ({ user, errorCode, errorMessage })) };
  },
});
