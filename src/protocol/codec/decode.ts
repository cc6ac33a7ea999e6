/**
 * Plan interpreter for decoding. Values are plain objects whose keys are set in schema order on every
 * decode (so objects of one plan share a shape); fields absent at the version get their defaults.
 * Every failure is a ProtocolError('KSC_PROTOCOL_MALFORMED') raised by the Reader or here.
 */
import { ProtocolError } from '../protocol-error.ts';
import type { Reader } from '../primitives/reader.ts';
import {
  MODE_REGULAR, OP_ARRAY, OP_BOOL, OP_BYTES, OP_FLOAT64, OP_INT16, OP_INT32, OP_INT64, OP_INT8, OP_RECORDS,
  OP_STRING, OP_STRUCT, OP_UINT16, OP_UINT32, OP_UUID, defaultValue,
  type FieldStep, type StructPlan,
} from './plan.ts';

export function decodeStruct(plan: StructPlan, r: Reader): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    obj[step.key] = step.mode === MODE_REGULAR ? decodeField(step, r) : defaultValue(step);
  }
  if (plan.flexible) decodeTaggedFields(plan, r, obj);
  return obj;
}

function decodeTaggedFields(plan: StructPlan, r: Reader, obj: Record<string, unknown>): void {
  const count = r.readUnsignedVarint();
  for (let i = 0; i < count; i++) {
    const tag = r.readUnsignedVarint();
    const size = r.readUnsignedVarint();
    const step = plan.taggedByTag.get(tag);
    if (step === undefined) {
      // Unknown tags are how newer peers extend a version; skipping them is the point of tagged fields.
      r.skip(size);
      continue;
    }
    if (size > r.remaining) {
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `tagged field ${step.name} (tag ${tag}) of ${plan.name} claims ${size} bytes, ${r.remaining} left`);
    }
    const outerEnd = r.end;
    const fieldEnd = r.offset + size;
    r.end = fieldEnd;
    obj[step.key] = decodeField(step, r);
    if (r.offset !== fieldEnd) {
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `tagged field ${step.name} (tag ${tag}) of ${plan.name} has ${fieldEnd - r.offset} unread bytes`);
    }
    r.end = outerEnd;
  }
}

function decodeField(step: FieldStep, r: Reader): unknown {
  switch (step.op) {
    case OP_ARRAY: return decodeArray(step, r);
    case OP_STRUCT: {
      if (step.nullable && r.readInt8() < 0) return null;
      return decodeStruct(step.struct!, r);
    }
    default: return decodeScalar(step.op, step, r);
  }
}

function decodeArray(step: FieldStep, r: Reader): unknown[] | null {
  const length = step.compact ? r.readCompactArrayLength(step.nullable) : r.readArrayLength(step.nullable);
  if (length < 0) return null;
  const out = new Array<unknown>(length);
  if (step.elementOp === OP_STRUCT) {
    const plan = step.struct!;
    for (let i = 0; i < length; i++) out[i] = decodeStruct(plan, r);
  } else {
    for (let i = 0; i < length; i++) out[i] = decodeScalar(step.elementOp, step, r, true);
  }
  return out;
}

/** `element` decodes an array element: elements of primitive arrays are never null. */
function decodeScalar(op: number, step: FieldStep, r: Reader, element = false): unknown {
  switch (op) {
    case OP_INT8: return r.readInt8();
    case OP_INT16: return r.readInt16();
    case OP_UINT16: return r.readUInt16();
    case OP_INT32: return r.readInt32();
    case OP_UINT32: return r.readUInt32();
    case OP_INT64: return r.readInt64();
    case OP_FLOAT64: return r.readFloat64();
    case OP_BOOL: return r.readBool();
    case OP_UUID: return r.readUuid();
    case OP_STRING: {
      const nullable = step.nullable && !element;
      if (step.compact) return nullable ? r.readCompactNullableString() : r.readCompactString();
      return nullable ? r.readNullableString() : r.readString();
    }
    case OP_BYTES: {
      const nullable = step.nullable && !element;
      if (step.compact) return nullable ? r.readCompactNullableBytes() : r.readCompactBytes();
      return nullable ? r.readNullableBytes() : r.readBytes();
    }
    // Records are always nullable on the wire (Kafka writes -1 for "no records").
    case OP_RECORDS: return step.compact ? r.readCompactNullableBytes() : r.readNullableBytes();
    default: throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `unknown field op ${op} in ${step.name}`);
  }
}
