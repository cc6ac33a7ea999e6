/**
 * Random and mutated frames must only ever make the decoder throw ProtocolError — never a TypeError,
 * RangeError or an allocation from a corrupted length — and must finish quickly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest, decodeRequestHeader, decodeResponse, encodeRequest, encodeResponse, type RequestByKey, type ResponseByKey } from './index.ts';
import { REQUEST_SCHEMAS, RESPONSE_SCHEMAS } from '../messages/index.ts';
import { compileMessage, parseVersions } from './plan.ts';
import { Random, randomStruct } from '../../../test/helpers/random-value.ts';
import { ProtocolError } from '../protocol-error.ts';
import type { MessageSchema } from './message-schema.ts';

const TIME_BUDGET_MS = 3000;
const MUTATIONS_PER_FRAME = 6;

interface Sample {
  apiKey: number;
  version: number;
  frame: Buffer;
}

function samples(schemas: Readonly<Record<number, MessageSchema>>, rnd: Random, encode: (apiKey: number, version: number, value: Record<string, unknown>) => Buffer): Sample[] {
  const out: Sample[] = [];
  for (const [key, schema] of Object.entries(schemas)) {
    const range = parseVersions(schema.validVersions)!;
    for (let version = range.min; version <= range.max; version++) {
      const value = randomStruct(compileMessage(schema, version), rnd);
      out.push({ apiKey: Number(key), version, frame: encode(Number(key), version, value) });
    }
  }
  return out;
}

function mutate(frame: Buffer, rnd: Random): Buffer {
  const copy = Buffer.from(frame);
  switch (rnd.int(0, 4)) {
    case 0: { // bit flips
      const flips = rnd.int(1, 4);
      for (let i = 0; i < flips && copy.length > 0; i++) copy[rnd.int(0, copy.length - 1)]! ^= 1 << rnd.int(0, 7);
      return copy;
    }
    case 1: // truncation
      return copy.subarray(0, rnd.int(0, Math.max(0, copy.length - 1)));
    case 2: { // corrupt what may be a length field with an extreme value
      if (copy.length < 4) return copy;
      const at = rnd.int(0, copy.length - 4);
      const extremes = [0xffffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0x00010000, 0x0000ffff];
      copy.writeUInt32BE(extremes[rnd.int(0, extremes.length - 1)]!, at);
      return copy;
    }
    case 3: { // varint-style corruption: a run of continuation bytes
      const at = rnd.int(0, copy.length);
      return Buffer.concat([copy.subarray(0, at), Buffer.alloc(rnd.int(1, 12), 0xff), copy.subarray(at)]);
    }
    default: // appended junk
      return Buffer.concat([copy, rnd.bytes(rnd.int(1, 16))]);
  }
}

function expectOnlyProtocolErrors(fn: () => unknown, context: string): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolError)) {
      assert.fail(`${context}: threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    }
  }
}

test('mutated and random request frames only ever raise ProtocolError', () => {
  const rnd = new Random(0xf022);
  const base = samples(REQUEST_SCHEMAS, rnd, (k, v, value) => Buffer.concat(encodeRequest(k as keyof RequestByKey, v, 1, 'fuzz', value)));
  const started = performance.now();
  let frames = 0;
  for (let round = 0; round < 20 && performance.now() - started < TIME_BUDGET_MS; round++) {
    for (const s of base) {
      for (let m = 0; m < MUTATIONS_PER_FRAME; m++) {
        const frame = m === 0 && round === 0 ? rnd.bytes(rnd.int(0, 64)) : mutate(s.frame, rnd);
        frames++;
        expectOnlyProtocolErrors(() => {
          const header = decodeRequestHeader(frame);
          if (header.bodyOffset >= 0) decodeRequest(header.apiKey as keyof RequestByKey, header.apiVersion, frame, header.bodyOffset);
        }, `request apiKey ${s.apiKey} v${s.version} frame ${frame.toString('hex')}`);
        // Also decode with the original apiKey/version, whatever the mutated header now says.
        expectOnlyProtocolErrors(() => decodeRequest(s.apiKey as keyof RequestByKey, s.version, frame, Math.min(frame.length, 10)), `request body apiKey ${s.apiKey} v${s.version}`);
      }
    }
  }
  assert.ok(frames > 5000, `only ${frames} frames fuzzed`);
  assert.ok(performance.now() - started < 5000, 'fuzzing stayed within its time bound');
});

test('mutated response frames only ever raise ProtocolError', () => {
  const rnd = new Random(0xf033);
  const base = samples(RESPONSE_SCHEMAS, rnd, (k, v, value) => Buffer.concat(encodeResponse(k as keyof ResponseByKey, v, 1, value as never)));
  const started = performance.now();
  for (let round = 0; round < 5 && performance.now() - started < TIME_BUDGET_MS / 2; round++) {
    for (const s of base) {
      for (let m = 0; m < MUTATIONS_PER_FRAME; m++) {
        const frame = mutate(s.frame, rnd);
        expectOnlyProtocolErrors(() => decodeResponse(s.apiKey as keyof ResponseByKey, s.version, frame), `response apiKey ${s.apiKey} v${s.version}`);
      }
    }
  }
});
