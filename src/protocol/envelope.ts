/**
 * Kafka's Envelope API (KIP-590, apiKey 58, v0, flexible): a request carried on behalf of another
 * principal. The proxy wraps each client request in one so that a broker authorizes it as the client's
 * principal while it arrives on the proxy's own authenticated, pooled connection
 * (docs/design/proxy.md, "Security").
 *
 * The inner request and response are whole Kafka frames (header + body, no size prefix). These helpers
 * frame them by reference — record batches inside are never copied — and are checked against the
 * generated codec in envelope.test.ts.
 *
 * The principal travels as UTF-8 `Type:name` (e.g. `User:alice`): Kafka's own serialization of it is a
 * broker-internal detail, and only kafscale brokers read it. The client host is the address's raw bytes
 * (4 for IPv4, 16 for IPv6), as Kafka sends it.
 */
import { isIP } from 'node:net';
import { ApiKey } from './api-keys.ts';
import { ProtocolError } from './protocol-error.ts';
import { Reader } from './primitives/reader.ts';
import { Writer } from './primitives/writer.ts';

export const ENVELOPE_VERSION = 0;

export interface EnvelopeSender {
  /** The principal the inner request acts as, e.g. `User:alice`. */
  readonly principal: string;
  /** The client's IP address as text (IPv4 or IPv6); anything else is sent as 0.0.0.0. */
  readonly clientHost: string;
}

/** The Envelope request frame (no size prefix) around `inner` (a request frame, as chunks). */
export function wrapRequest(inner: readonly Buffer[], correlationId: number, clientId: string | null, sender: EnvelopeSender): Buffer[] {
  let innerBytes = 0;
  for (const chunk of inner) innerBytes += chunk.length;
  const w = new Writer();
  w.writeInt16(ApiKey.Envelope).writeInt16(ENVELOPE_VERSION).writeInt32(correlationId).writeNullableString(clientId).writeUnsignedVarint(0);
  w.writeUnsignedVarint(innerBytes + 1).writeRawChunks(inner);
  const principal = Buffer.from(sender.principal, 'utf8');
  w.writeUnsignedVarint(principal.length + 1).writeRaw(principal);
  const host = hostBytes(sender.clientHost);
  w.writeUnsignedVarint(host.length + 1).writeRaw(host);
  w.writeUnsignedVarint(0);
  return w.finish();
}

/** The inner response frame of an Envelope response frame (which starts with its correlation id). */
export function unwrapResponse(frame: Buffer): { readonly errorCode: number; readonly inner: Buffer | null } {
  const r = new Reader(frame);
  r.readInt32();
  r.skipTaggedFields();
  const inner = r.readCompactNullableBytes();
  const errorCode = r.readInt16();
  return { errorCode, inner };
}

export interface EnvelopeRequestBody {
  readonly requestData: Buffer;
  readonly principal: string | null;
  readonly clientHost: string;
}

/** The Envelope request body at `bodyOffset` of `frame` (requestData is a view into it). */
export function readEnvelopeRequest(frame: Buffer, bodyOffset: number): EnvelopeRequestBody {
  const r = new Reader(frame, bodyOffset);
  const requestData = r.readCompactBytes();
  const principal = r.readCompactNullableBytes();
  const host = r.readCompactBytes();
  r.skipTaggedFields();
  return { requestData, principal: principal === null ? null : principal.toString('utf8'), clientHost: hostText(host) };
}

/** The Envelope response frame (no size prefix) carrying `inner` (a response frame, as chunks) or only an error. */
export function wrapResponse(correlationId: number, inner: readonly Buffer[] | null, errorCode: number): Buffer[] {
  const w = new Writer();
  w.writeInt32(correlationId).writeUnsignedVarint(0);
  if (inner === null) w.writeUnsignedVarint(0);
  else {
    let innerBytes = 0;
    for (const chunk of inner) innerBytes += chunk.length;
    w.writeUnsignedVarint(innerBytes + 1).writeRawChunks(inner);
  }
  w.writeInt16(errorCode).writeUnsignedVarint(0);
  return w.finish();
}

function hostBytes(host: string): Buffer {
  const bare = host.startsWith('::ffff:') && isIP(host.slice(7)) === 4 ? host.slice(7) : host;
  switch (isIP(bare)) {
    case 4:
      return Buffer.from(bare.split('.').map(Number));
    case 6:
      return ipv6Bytes(bare);
    default:
      return Buffer.from([0, 0, 0, 0]);
  }
}

function ipv6Bytes(host: string): Buffer {
  const [head = '', tail = ''] = host.split('::');
  const words = (part: string): number[] => (part === '' ? [] : part.split(':').map((w) => Number.parseInt(w, 16)));
  const front = words(head);
  const back = host.includes('::') ? words(tail) : [];
  const all = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const out = Buffer.alloc(16);
  all.forEach((word, i) => out.writeUInt16BE(word & 0xffff, i * 2));
  return out;
}

function hostText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length === 16) {
    const words: string[] = [];
    for (let i = 0; i < 16; i += 2) words.push(bytes.readUInt16BE(i).toString(16));
    return words.join(':');
  }
  throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `an Envelope client host of ${bytes.length} bytes is neither IPv4 nor IPv6`);
}
