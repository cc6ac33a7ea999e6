/**
 * The committed src/protocol/messages/ must be exactly what the generator produces from Kafka's
 * schemas: regenerate into a temp dir and compare every file (and the file list).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripJsonComments, kebabCase, writeGenerated } from '../../../scripts/generate-protocol.ts';

const repoRoot = resolve(import.meta.dirname, '../../..');
const committedDir = join(repoRoot, 'src/protocol/messages');
const schemaDir = process.env['KAFSCALE_PROTOCOL_SCHEMAS'] ?? resolve(repoRoot, '../shared/kafka-protocol/messages');
const haveSchemas = existsSync(join(schemaDir, 'RequestHeader.json'));

test('generated messages are up to date with the Kafka schemas', { skip: haveSchemas ? false : `no Kafka schemas at ${schemaDir} (set KAFSCALE_PROTOCOL_SCHEMAS)` }, (t) => {
  const out = mkdtempSync(join(tmpdir(), 'kafscale-messages-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  writeGenerated(schemaDir, out);
  const fresh = readdirSync(out).sort();
  const committed = readdirSync(committedDir).filter((f) => f.endsWith('.ts')).sort();
  assert.deepEqual(committed, fresh, 'file list differs: run npm run generate:protocol -- <schemaDir>');
  for (const file of fresh) {
    assert.equal(readFileSync(join(committedDir, file), 'utf8'), readFileSync(join(out, file), 'utf8'), `${file} differs from a fresh generation`);
  }
});

test('comment stripping leaves // inside strings alone', () => {
  const text = '{ "a": "http://x // y", // comment\n "b": "q\\"//" }';
  assert.deepEqual(JSON.parse(stripJsonComments(text)), { a: 'http://x // y', b: 'q"//' });
});

test('file names are kebab-case', () => {
  assert.equal(kebabCase('MetadataRequest'), 'metadata-request');
  assert.equal(kebabCase('KRaftVersionRecord'), 'k-raft-version-record');
  assert.equal(kebabCase('OffsetForLeaderEpochRequest'), 'offset-for-leader-epoch-request');
});
