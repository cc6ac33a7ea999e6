/**
 * Compiles a generated message schema into a flat plan for one version: per struct, an array of field
 * steps in wire order that encode.ts and decode.ts interpret in a tight loop. A plan is compiled once
 * per (apiKey, version, request|response) and cached, so no per-message closures or version checks.
 */
import { ZERO_UUID } from '../sentinel-values.ts';
import type { FieldDefault, FieldSchema, MessageSchema } from './message-schema.ts';

export const OP_INT8 = 0;
export const OP_INT16 = 1;
export const OP_UINT16 = 2;
export const OP_INT32 = 3;
export const OP_UINT32 = 4;
export const OP_INT64 = 5;
export const OP_FLOAT64 = 6;
export const OP_BOOL = 7;
export const OP_UUID = 8;
export const OP_STRING = 9;
export const OP_BYTES = 10;
export const OP_RECORDS = 11;
export const OP_STRUCT = 12;
export const OP_ARRAY = 13;

const PRIMITIVE_OPS: Readonly<Record<string, number>> = {
  int8: OP_INT8, int16: OP_INT16, uint16: OP_UINT16, int32: OP_INT32, uint32: OP_UINT32, int64: OP_INT64,
  float64: OP_FLOAT64, bool: OP_BOOL, uuid: OP_UUID, string: OP_STRING, bytes: OP_BYTES, records: OP_RECORDS,
};

const EMPTY_BYTES = Buffer.alloc(0);

/** A field absent at this version: decode fills its default, encode skips it. */
export const MODE_ABSENT = 0;
export const MODE_REGULAR = 1;
export const MODE_TAGGED = 2;

export interface FieldStep {
  readonly key: string;
  readonly name: string;
  readonly mode: number;
  readonly op: number;
  /** For OP_ARRAY: the element op (OP_STRUCT for arrays of structs). */
  readonly elementOp: number;
  readonly nullable: boolean;
  /** Compact (varint-length) encoding of strings, bytes, arrays and records. */
  readonly compact: boolean;
  readonly tag: number;
  /** Default for scalars and null; arrays and structs get fresh values from defaultValue(). */
  readonly defaultScalar: FieldDefault;
  /** The schema says `"default": "null"` (Kafka's only way to make an array, struct or bytes default to null). */
  readonly defaultNull: boolean;
  /** Plan of the struct (or array element struct) at the same version. */
  readonly struct: StructPlan | null;
}

export interface StructPlan {
  readonly name: string;
  readonly flexible: boolean;
  readonly steps: readonly FieldStep[];
  /** Tagged steps sorted by tag, for encoding. */
  readonly tagged: readonly FieldStep[];
  readonly taggedByTag: ReadonlyMap<number, FieldStep>;
}

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export function parseVersions(spec: string): VersionRange | null {
  if (spec === 'none') return null;
  if (spec.endsWith('+')) return { min: Number(spec.slice(0, -1)), max: Number.POSITIVE_INFINITY };
  const dash = spec.indexOf('-');
  if (dash < 0) return { min: Number(spec), max: Number(spec) };
  return { min: Number(spec.slice(0, dash)), max: Number(spec.slice(dash + 1)) };
}

export function inVersions(spec: string | undefined, version: number): boolean {
  if (spec === undefined) return false;
  const range = parseVersions(spec);
  return range !== null && version >= range.min && version <= range.max;
}

function scalarDefault(op: number, field: FieldSchema): FieldDefault {
  if (field.default !== undefined) return field.default;
  switch (op) {
    case OP_INT64: return 0n;
    case OP_BOOL: return false;
    case OP_STRING: return '';
    case OP_UUID: return ZERO_UUID;
    case OP_RECORDS: return null;
    case OP_STRUCT:
    case OP_ARRAY: return null;
    default: return 0;
  }
}

function compileField(field: FieldSchema, version: number, flexible: boolean): FieldStep {
  const isArray = field.type.startsWith('[]');
  const base = isArray ? field.type.slice(2) : field.type;
  const baseOp = PRIMITIVE_OPS[base] ?? OP_STRUCT;
  const op = isArray ? OP_ARRAY : baseOp;
  const present = inVersions(field.versions, version);
  const tagged = present && flexible && inVersions(field.taggedVersions, version);
  const struct = baseOp === OP_STRUCT ? compileStruct(field.struct ?? base, field.fields ?? [], version, flexible) : null;
  return {
    key: field.key,
    name: field.name,
    mode: !present ? MODE_ABSENT : tagged ? MODE_TAGGED : field.tag !== undefined && !flexible ? MODE_ABSENT : MODE_REGULAR,
    op,
    elementOp: isArray ? baseOp : -1,
    nullable: inVersions(field.nullableVersions, version),
    compact: field.flexibleVersions === undefined ? flexible : inVersions(field.flexibleVersions, version),
    tag: field.tag ?? -1,
    defaultScalar: scalarDefault(op, field),
    defaultNull: field.default === null,
    struct,
  };
}

export function compileStruct(name: string, fields: readonly FieldSchema[], version: number, flexible: boolean): StructPlan {
  const steps = fields.map((f) => compileField(f, version, flexible));
  const tagged = steps.filter((s) => s.mode === MODE_TAGGED).sort((a, b) => a.tag - b.tag);
  return { name, flexible, steps, tagged, taggedByTag: new Map(tagged.map((s) => [s.tag, s])) };
}

export function compileMessage(schema: MessageSchema, version: number): StructPlan {
  return compileStruct(schema.name, schema.fields, version, inVersions(schema.flexibleVersions, version));
}

/** A fresh default for a field (arrays and structs are never shared between decoded messages). */
export function defaultValue(step: FieldStep): unknown {
  if (step.defaultNull) return null;
  if (step.op === OP_ARRAY) return [];
  if (step.op === OP_STRUCT) return defaultStruct(step.struct!);
  if (step.op === OP_BYTES) return EMPTY_BYTES;
  return step.defaultScalar;
}

export function defaultStruct(plan: StructPlan): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const step of plan.steps) obj[step.key] = defaultValue(step);
  return obj;
}
