/**
 * Random, schema-valid message values for one version — used by the codec's round-trip and fuzz
 * tests (and usable by benches). Fields absent at the version hold their decode defaults, so
 * decode(encode(value)) must deep-equal the value.
 */
import { KafscaleError } from '../../src/errors/kafscale-error.ts';
import {
  MODE_ABSENT, OP_ARRAY, OP_BOOL, OP_BYTES, OP_FLOAT64, OP_INT16, OP_INT32, OP_INT64, OP_INT8, OP_RECORDS,
  OP_STRING, OP_STRUCT, OP_UINT16, OP_UINT32, OP_UUID, defaultValue,
  type FieldStep, type StructPlan,
} from '../../src/protocol/codec/plan.ts';

/** Small deterministic PRNG (mulberry32) so a failing seed can be replayed. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz-._0123456789éü€';

function randomString(rnd: Random): string {
  let s = '';
  const n = rnd.int(0, 12);
  for (let i = 0; i < n; i++) s += ALPHABET[rnd.int(0, ALPHABET.length - 1)];
  return s;
}

function randomScalar(op: number, rnd: Random): unknown {
  switch (op) {
    case OP_INT8: return rnd.int(-128, 127);
    case OP_INT16: return rnd.int(-32768, 32767);
    case OP_UINT16: return rnd.int(0, 65535);
    case OP_INT32: return rnd.int(-2147483648, 2147483647);
    case OP_UINT32: return rnd.int(0, 4294967295);
    case OP_INT64: return BigInt.asIntN(64, (BigInt(rnd.int(0, 0xffffffff)) << 32n) | BigInt(rnd.int(0, 0xffffffff)));
    case OP_FLOAT64: return (rnd.next() - 0.5) * 1e9;
    case OP_BOOL: return rnd.chance(0.5);
    case OP_UUID: return rnd.bytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    case OP_STRING: return randomString(rnd);
    case OP_BYTES: return rnd.bytes(rnd.int(0, 8));
    case OP_RECORDS: return rnd.bytes(rnd.int(0, 40));
    default: throw new KafscaleError('KSC_INTERNAL', `no random value for op ${op}`);
  }
}

function randomField(step: FieldStep, rnd: Random, depth: number): unknown {
  if ((step.nullable || step.op === OP_RECORDS) && rnd.chance(0.2)) return null;
  if (step.op === OP_ARRAY) {
    const n = depth > 4 ? 0 : rnd.int(0, 3);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) {
      out.push(step.elementOp === OP_STRUCT ? randomStruct(step.struct!, rnd, depth + 1) : randomScalar(step.elementOp, rnd));
    }
    return out;
  }
  if (step.op === OP_STRUCT) return randomStruct(step.struct!, rnd, depth + 1);
  return randomScalar(step.op, rnd);
}

export function randomStruct(plan: StructPlan, rnd: Random, depth = 0): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const step of plan.steps) {
    // Tagged fields are set about half the time; otherwise they keep their default, as decode would.
    const unset = step.mode === MODE_ABSENT || (step.tag >= 0 && rnd.chance(0.5));
    obj[step.key] = unset ? defaultValue(step) : randomField(step, rnd, depth);
  }
  return obj;
}
