/**
 * The Kafka codec: one generic encoder/decoder driven by the generated schemas.
 *
 * Header rules: requests use header v1 (classic nullable ClientId) or v2 when the request version is
 * flexible (ClientId stays a classic int16 string, then a tagged-field section); responses use header
 * v0, or v1 (with tagged fields) when the response version is flexible — except ApiVersions, whose
 * response always uses v0 so a client that sent a version the broker does not know can still read it
 * (KIP-511). ControlledShutdown v0 is the only request with header v0 (no ClientId).
 */
import { ProtocolError } from '../protocol-error.ts';
import { Reader } from '../primitives/reader.ts';
import { Writer } from '../primitives/writer.ts';
import { REQUEST_SCHEMAS, RESPONSE_SCHEMAS, type RequestByKey, type ResponseByKey } from '../messages/index.ts';
import type { MessageSchema } from './message-schema.ts';
import { compileMessage, parseVersions, type StructPlan } from './plan.ts';
import { decodeStruct } from './decode.ts';
import { encodeStruct } from './encode.ts';

export type { RequestByKey, ResponseByKey } from '../messages/index.ts';
export type { MessageSchema, FieldSchema } from './message-schema.ts';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/**
 * What encode accepts: every byte field (bytes, records) may also be a list of chunks, so stored
 * record batches are passed through by reference.
 */
export type Encodable<T> = T extends Buffer
  ? Buffer | readonly Buffer[]
  : T extends bigint | number | string | boolean | null | undefined
    ? T
    : T extends readonly (infer E)[]
      ? readonly Encodable<E>[]
      : { readonly [K in keyof T]: Encodable<T[K]> };

const API_VERSIONS_KEY = 18;
const CONTROLLED_SHUTDOWN_KEY = 7;

const requestSchemas: ReadonlyMap<number, MessageSchema> = new Map(Object.entries(REQUEST_SCHEMAS).map(([k, s]) => [Number(k), s]));
const responseSchemas: ReadonlyMap<number, MessageSchema> = new Map(Object.entries(RESPONSE_SCHEMAS).map(([k, s]) => [Number(k), s]));

/** Plans indexed by apiKey then version; filled lazily, once. */
const requestPlans: (StructPlan | undefined)[][] = [];
const responsePlans: (StructPlan | undefined)[][] = [];

function supports(schema: MessageSchema | undefined, version: number): schema is MessageSchema {
  if (schema === undefined || !Number.isInteger(version)) return false;
  const range = parseVersions(schema.validVersions);
  return range !== null && version >= range.min && version <= range.max;
}

function planFor(cache: (StructPlan | undefined)[][], schemas: ReadonlyMap<number, MessageSchema>, apiKey: number, version: number): StructPlan | null {
  const cached = cache[apiKey]?.[version];
  if (cached !== undefined) return cached;
  const schema = schemas.get(apiKey);
  if (!supports(schema, version)) return null;
  const plan = compileMessage(schema, version);
  (cache[apiKey] ??= [])[version] = plan;
  return plan;
}

function requirePlan(cache: (StructPlan | undefined)[][], schemas: ReadonlyMap<number, MessageSchema>, apiKey: number, version: number, kind: string): StructPlan {
  const plan = planFor(cache, schemas, apiKey, version);
  if (plan === null) {
    throw new ProtocolError('KSC_PROTOCOL_UNSUPPORTED_VERSION', `the codec has no ${kind} schema for apiKey ${apiKey} version ${version}`);
  }
  return plan;
}

export function isSupportedByCodec(apiKey: number, version: number): boolean {
  return planFor(requestPlans, requestSchemas, apiKey, version) !== null && planFor(responsePlans, responseSchemas, apiKey, version) !== null;
}

/** The [min, max] versions the generated schemas know for an API, or null. */
export function codecVersionRange(apiKey: number): { min: number; max: number; latestUnstable: boolean } | null {
  const schema = requestSchemas.get(apiKey);
  const range = schema === undefined ? null : parseVersions(schema.validVersions);
  if (schema === undefined || range === null) return null;
  return { min: range.min, max: range.max, latestUnstable: schema.latestVersionUnstable === true };
}

function usesResponseHeaderV1(apiKey: number, plan: StructPlan): boolean {
  return plan.flexible && apiKey !== API_VERSIONS_KEY;
}

/**
 * Reads the request header. bodyOffset is where the body starts, or -1 when the apiKey/version is
 * unknown (the header's fixed part is still returned so the broker can answer with an error).
 */
export function decodeRequestHeader(frame: Buffer): RequestHeader & { bodyOffset: number } {
  const r = new Reader(frame);
  const apiKey = r.readInt16();
  const apiVersion = r.readInt16();
  const correlationId = r.readInt32();
  const clientId = apiKey === CONTROLLED_SHUTDOWN_KEY && apiVersion === 0 ? null : r.readNullableString();
  const plan = planFor(requestPlans, requestSchemas, apiKey, apiVersion);
  let bodyOffset = -1;
  if (plan !== null) {
    if (plan.flexible) r.skipTaggedFields();
    bodyOffset = r.offset;
  }
  return { apiKey, apiVersion, correlationId, clientId, bodyOffset };
}

function finishDecode(r: Reader, plan: StructPlan): void {
  if (r.offset !== r.end) {
    throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `${plan.name} has ${r.end - r.offset} trailing bytes after a complete body`);
  }
}

export function decodeRequest<K extends keyof RequestByKey>(apiKey: K, version: number, frame: Buffer, bodyOffset: number): RequestByKey[K] {
  const plan = requirePlan(requestPlans, requestSchemas, apiKey, version, 'request');
  const r = new Reader(frame, bodyOffset);
  const body = decodeStruct(plan, r);
  finishDecode(r, plan);
  return body as unknown as RequestByKey[K];
}

/** Header + body, without the 4-byte size prefix. */
export function encodeResponse<K extends keyof ResponseByKey>(apiKey: K, version: number, correlationId: number, body: Encodable<ResponseByKey[K]>): Buffer[] {
  const plan = requirePlan(responsePlans, responseSchemas, apiKey, version, 'response');
  const w = new Writer();
  w.writeInt32(correlationId);
  if (usesResponseHeaderV1(apiKey, plan)) w.writeUnsignedVarint(0);
  encodeStruct(plan, body as Readonly<Record<string, unknown>>, w);
  return w.finish();
}

/** Client side (tests, CLI, fixtures): header + body, without the size prefix. */
export function encodeRequest<K extends keyof RequestByKey>(
  apiKey: K, version: number, correlationId: number, clientId: string | null, body: Partial<Encodable<RequestByKey[K]>>,
): Buffer[] {
  const plan = requirePlan(requestPlans, requestSchemas, apiKey, version, 'request');
  const w = new Writer();
  w.writeInt16(apiKey).writeInt16(version).writeInt32(correlationId);
  if (!(apiKey === CONTROLLED_SHUTDOWN_KEY && version === 0)) w.writeNullableString(clientId);
  if (plan.flexible) w.writeUnsignedVarint(0);
  encodeStruct(plan, body as Readonly<Record<string, unknown>>, w);
  return w.finish();
}

export function decodeResponse<K extends keyof ResponseByKey>(apiKey: K, version: number, frame: Buffer): { correlationId: number; body: ResponseByKey[K] } {
  const plan = requirePlan(responsePlans, responseSchemas, apiKey, version, 'response');
  const r = new Reader(frame);
  const correlationId = r.readInt32();
  if (usesResponseHeaderV1(apiKey, plan)) r.skipTaggedFields();
  const body = decodeStruct(plan, r);
  finishDecode(r, plan);
  return { correlationId, body: body as unknown as ResponseByKey[K] };
}

const dataPlans = new WeakMap<MessageSchema, (StructPlan | undefined)[]>();

function dataPlan(schema: MessageSchema, version: number): StructPlan {
  let plans = dataPlans.get(schema);
  if (plans === undefined) dataPlans.set(schema, (plans = []));
  const cached = plans[version];
  if (cached !== undefined) return cached;
  const name = schema.name;
  if (!supports(schema, version)) {
    throw new ProtocolError('KSC_PROTOCOL_UNSUPPORTED_VERSION', `${name} has no version ${version}`);
  }
  return (plans[version] = compileMessage(schema, version));
}

/**
 * Decodes a standalone structure such as ConsumerProtocolAssignment (see DATA_SCHEMAS). The caller
 * reads any version prefix itself (the consumer protocol puts an int16 version first).
 */
export function decodeData<T>(schema: MessageSchema, version: number, bytes: Buffer, offset = 0): T {
  const plan = dataPlan(schema, version);
  const r = new Reader(bytes, offset);
  const value = decodeStruct(plan, r);
  finishDecode(r, plan);
  return value as T;
}

export function encodeData<T>(schema: MessageSchema, version: number, value: Partial<Encodable<T>>): Buffer[] {
  const w = new Writer();
  encodeStruct(dataPlan(schema, version), value as Readonly<Record<string, unknown>>, w);
  return w.finish();
}
