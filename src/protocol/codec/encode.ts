/**
 * Plan interpreter for encoding. `undefined` means "the default"; fields absent at the version are
 * skipped. Bytes and records may be given as one Buffer or as a list of chunks (stored batches), which
 * the Writer appends by reference when large.
 */
import { ProtocolError } from '../protocol-error.ts';
import { Writer } from '../primitives/writer.ts';
import { ZERO_UUID } from '../sentinel-values.ts';
import {
  MODE_REGULAR, MODE_TAGGED, OP_ARRAY, OP_BOOL, OP_BYTES, OP_FLOAT64, OP_INT16, OP_INT32, OP_INT64, OP_INT8, OP_RECORDS,
  OP_STRING, OP_STRUCT, OP_UINT16, OP_UINT32, OP_UUID, defaultValue,
  type FieldStep, type StructPlan,
} from './plan.ts';

type Fields = Readonly<Record<string, unknown>>;

const NO_FIELDS: Fields = {};

export function encodeStruct(plan: StructPlan, value: Fields | undefined, w: Writer): void {
  const v = value ?? NO_FIELDS;
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (step.mode === MODE_REGULAR) encodeField(step, v[step.key], w, plan);
  }
  if (plan.flexible) encodeTaggedFields(plan, v, w);
}

function encodeTaggedFields(plan: StructPlan, v: Fields, w: Writer): void {
  const tagged = plan.tagged;
  let count = 0;
  for (let i = 0; i < tagged.length; i++) if (!isDefault(tagged[i]!, v[tagged[i]!.key])) count++;
  w.writeUnsignedVarint(count);
  if (count === 0) return;
  for (let i = 0; i < tagged.length; i++) {
    const step = tagged[i]!;
    const value = v[step.key];
    if (isDefault(step, value)) continue;
    // The size prefix comes first, so the value is encoded aside; tagged fields are small and rare.
    const inner = new Writer(64);
    encodeField(step, value, inner, plan);
    w.writeUnsignedVarint(step.tag).writeUnsignedVarint(inner.byteLength).writeRawChunks(inner.finish());
  }
}

/** Kafka writes a tagged field only when it differs from its default. */
function isDefault(step: FieldStep, value: unknown): boolean {
  if (value === undefined) return true;
  if (value === null) return step.defaultNull || step.op === OP_RECORDS;
  switch (step.op) {
    case OP_ARRAY: return !step.defaultNull && (value as readonly unknown[]).length === 0;
    case OP_STRUCT: return !step.defaultNull && isDefaultStruct(step.struct!, value as Fields);
    case OP_BYTES: return !step.defaultNull && byteLength(value) === 0;
    default: return value === step.defaultScalar;
  }
}

function isDefaultStruct(plan: StructPlan, v: Fields): boolean {
  for (const step of plan.steps) {
    if (step.mode === MODE_REGULAR || step.mode === MODE_TAGGED) {
      if (!isDefault(step, v[step.key])) return false;
    }
  }
  return true;
}

function byteLength(value: unknown): number {
  if (value instanceof Uint8Array) return value.length;
  let n = 0;
  for (const chunk of value as readonly Uint8Array[]) n += chunk.length;
  return n;
}

function missing(step: FieldStep, plan: StructPlan): never {
  throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `${plan.name}.${step.key} is null but not nullable at this version`);
}

function encodeField(step: FieldStep, value: unknown, w: Writer, plan: StructPlan): void {
  const v = value === undefined ? defaultValue(step) : value;
  switch (step.op) {
    case OP_ARRAY: {
      if (v === null) {
        if (!step.nullable) missing(step, plan);
        if (step.compact) w.writeUnsignedVarint(0);
        else w.writeInt32(-1);
        return;
      }
      const items = v as readonly unknown[];
      if (step.compact) w.writeUnsignedVarint(items.length + 1);
      else w.writeInt32(items.length);
      if (step.elementOp === OP_STRUCT) {
        const sub = step.struct!;
        for (let i = 0; i < items.length; i++) encodeStruct(sub, items[i] as Fields, w);
      } else {
        for (let i = 0; i < items.length; i++) encodeScalar(step.elementOp, step, items[i], w, plan, true);
      }
      return;
    }
    case OP_STRUCT: {
      if (step.nullable) {
        if (v === null) {
          w.writeInt8(-1);
          return;
        }
        w.writeInt8(1);
      } else if (v === null) {
        missing(step, plan);
      }
      encodeStruct(step.struct!, v as Fields, w);
      return;
    }
    default:
      encodeScalar(step.op, step, v, w, plan, false);
  }
}

function encodeScalar(op: number, step: FieldStep, v: unknown, w: Writer, plan: StructPlan, element: boolean): void {
  switch (op) {
    case OP_INT8: w.writeInt8(v as number); return;
    case OP_INT16: w.writeInt16(v as number); return;
    case OP_UINT16: w.writeUInt16(v as number); return;
    case OP_INT32: w.writeInt32(v as number); return;
    case OP_UINT32: w.writeUInt32(v as number); return;
    case OP_INT64: w.writeInt64(v as bigint); return;
    case OP_FLOAT64: w.writeFloat64(v as number); return;
    case OP_BOOL: w.writeBool(v as boolean); return;
    case OP_UUID: w.writeUuid((v as string | null) ?? ZERO_UUID); return;
    case OP_STRING: {
      if (v === null && (element || !step.nullable)) missing(step, plan);
      if (step.compact) w.writeCompactNullableString(v as string | null);
      else w.writeNullableString(v as string | null);
      return;
    }
    case OP_BYTES:
    case OP_RECORDS: {
      if (v === null) {
        if (op === OP_BYTES && (element || !step.nullable)) missing(step, plan);
        if (step.compact) w.writeUnsignedVarint(0);
        else w.writeInt32(-1);
        return;
      }
      const length = byteLength(v);
      if (step.compact) w.writeUnsignedVarint(length + 1);
      else w.writeInt32(length);
      if (v instanceof Uint8Array) w.writeRaw(v);
      else w.writeRawChunks(v as readonly Uint8Array[]);
      return;
    }
    default:
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `unknown field op ${op} in ${plan.name}.${step.key}`);
  }
}
