import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT_UNREACHABLE, usageError } from '../cli/cli-error.ts';
import { ConfigError } from '../config/config-error.ts';
import { ErrorCode, KAFKA_ERRORS } from '../protocol/error-codes.ts';
import { ProtocolError } from '../protocol/protocol-error.ts';
import { errorCodeFor } from '../broker/dispatch.ts';
import { ERROR_CATALOGUE, KafscaleError, isKafscaleError, kafkaErrorOf, type KafscaleErrorCode } from './kafscale-error.ts';

const SRC = fileURLToPath(new URL('..', import.meta.url));
const DOC = fileURLToPath(new URL('../../docs/errors.md', import.meta.url));
const CODES = Object.keys(ERROR_CATALOGUE) as KafscaleErrorCode[];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'messages' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

test('docs/errors.md describes exactly the codes of the catalogue', () => {
  const documented = [...readFileSync(DOC, 'utf8').matchAll(/^### (KSC_[A-Z0-9_]+)\s*$/gm)].map((m) => m[1] as string);
  assert.equal(new Set(documented).size, documented.length, 'a code is documented twice');
  assert.deepEqual([...documented].sort(), [...CODES].sort());
});

test('every KSC_ string in src/ is a catalogue code (or a prefix of some)', () => {
  const unknown: string[] = [];
  for (const file of sourceFiles(SRC)) {
    for (const match of readFileSync(file, 'utf8').matchAll(/KSC_[A-Z0-9_]*/g)) {
      const token = match[0];
      const known = token.endsWith('_') ? CODES.some((code) => code.startsWith(token)) : (CODES as string[]).includes(token);
      if (!known) unknown.push(`${relative(SRC, file)}: ${token}`);
    }
  }
  assert.deepEqual(unknown, []);
});

test('each catalogue entry maps to a Kafka error that exists, retriable ones to a retriable Kafka error', () => {
  for (const code of CODES) {
    const entry = ERROR_CATALOGUE[code];
    const kafka = (KAFKA_ERRORS as Record<string, { retriable: boolean }>)[entry.kafkaError];
    assert.ok(kafka !== undefined, `${code} maps to ${entry.kafkaError}, which protocol/error-codes.ts does not know`);
    if (entry.retriable && entry.kafkaError !== 'UNKNOWN_SERVER_ERROR') assert.ok(kafka.retriable, `${code} is retriable but ${entry.kafkaError} is not`);
    assert.ok(entry.hint.length > 0, code);
  }
});

test('dispatch reports exceptions with the catalogue mapping', () => {
  const unavailable = new KafscaleError('KSC_META_UNAVAILABLE', 'etcd get failed');
  assert.deepEqual(errorCodeFor(unavailable), { errorCode: ErrorCode.REQUEST_TIMED_OUT, message: 'metadata store unavailable: etcd get failed; retry later' });
  assert.deepEqual(errorCodeFor(new KafscaleError('KSC_META_TIMEOUT', 't')), { errorCode: ErrorCode.REQUEST_TIMED_OUT, message: 'metadata store unavailable: t; retry later' });
  assert.deepEqual(errorCodeFor(new KafscaleError('KSC_OBJECT_THROTTLED', 's')), { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, message: 'object store unavailable: s; retry later' });
  assert.deepEqual(errorCodeFor(new KafscaleError('KSC_OBJECT_UNAVAILABLE', 'u')), { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, message: 'object store unavailable: u; retry later' });
  assert.deepEqual(errorCodeFor(new KafscaleError('KSC_STORAGE_FENCED', 'f')), { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, message: 'f' });
  assert.deepEqual(errorCodeFor(new KafscaleError('KSC_META_LEASE_LOST', 'l')), { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, message: 'l' });
  assert.deepEqual(errorCodeFor(new KafscaleError('KSC_INTERNAL', 'bug')), { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: 'bug' });
  assert.deepEqual(errorCodeFor(new ProtocolError('KSC_PROTOCOL_MALFORMED', 'bad')), { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: 'bad' });
  assert.deepEqual(errorCodeFor(new Error('plain')), { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: 'plain' });
  assert.deepEqual(kafkaErrorOf('a string'), { kafkaError: 'UNKNOWN_SERVER_ERROR', message: 'a string' });
});

test('ProtocolError, ConfigError and CliError are KafscaleErrors with their codes and unchanged messages', () => {
  const protocol = new ProtocolError('KSC_FRAME_TOO_LARGE', 'too big');
  assert.ok(isKafscaleError(protocol, 'KSC_FRAME_TOO_LARGE'));
  assert.equal(protocol.name, 'ProtocolError');
  assert.equal(protocol.retriable, false);

  const config = new ConfigError(['KAFSCALE_X is not a number']);
  assert.ok(isKafscaleError(config, 'KSC_CONFIG_INVALID'));
  assert.equal(config.message, 'Invalid configuration: KAFSCALE_X is not a number');
  assert.equal(config.name, 'ConfigError');

  assert.ok(isKafscaleError(new CliError('failed'), 'KSC_CLI_FAILED'));
  assert.ok(isKafscaleError(usageError('bad flag'), 'KSC_CLI_USAGE'));
  const unreachable = new CliError('cannot connect', { exitCode: EXIT_UNREACHABLE, cause: new Error('ECONNREFUSED') });
  assert.ok(isKafscaleError(unreachable, 'KSC_CLI_UNREACHABLE'));
  assert.equal(unreachable.message, 'cannot connect');
  assert.equal((unreachable.cause as Error).message, 'ECONNREFUSED');
});
