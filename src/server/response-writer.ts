/**
 * Writes one connection's responses: the size prefix plus the dispatcher's chunks in one corked write
 * (one `writev`), so stored record batches go out by reference. Counts the bytes it wrote.
 */
import type { Socket } from 'node:net';
import { sizePrefix } from '../protocol/frame.ts';
import type { KafscaleMetrics } from '../telemetry/metrics.ts';

/** TLS writes: pieces smaller than this are joined, up to this size (16 KiB = one TLS record's payload, ×4). */
const TLS_COALESCE_BYTES = 64 * 1024;

export class ResponseWriter {
  readonly #socket: Socket;
  readonly #metrics: KafscaleMetrics;
  /** A TLS socket (SSL, SASL_SSL listeners). */
  readonly #encrypted: boolean;
  #bytesOut: number;

  constructor(socket: Socket, metrics: KafscaleMetrics) {
    this.#socket = socket;
    this.#metrics = metrics;
    this.#encrypted = 'encrypted' in socket && socket.encrypted === true;
    this.#bytesOut = 0;
  }

  /** Bytes written so far, size prefixes included. */
  get bytesOut(): number {
    return this.#bytesOut;
  }

  write(chunks: readonly Buffer[]): void {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return;
    const prefix = sizePrefix(chunks);
    let bytes = prefix.length;
    if (this.#encrypted && chunks.length > 1) {
      this.#writeCoalesced(prefix, chunks);
      return;
    }
    socket.cork();
    socket.write(prefix);
    for (const chunk of chunks) {
      socket.write(chunk);
      bytes += chunk.length;
    }
    socket.uncork();
    this.#bytesOut += bytes;
    this.#metrics.networkSentBytesTotal.inc(bytes);
  }

  /**
   * TLS encrypts every buffer of a corked write as its own record(s): a Fetch response of many small
   * pieces became many small records. Small pieces are joined into buffers of up to TLS_COALESCE_BYTES
   * (a copy, which encryption makes anyway); large ones are written as they are, so a big response is
   * never copied whole.
   */
  #writeCoalesced(prefix: Buffer, chunks: readonly Buffer[]): void {
    const socket = this.#socket;
    let pending: Buffer[] = [prefix];
    let pendingBytes = prefix.length;
    let total = 0;
    const flush = (): void => {
      if (pendingBytes === 0) return;
      socket.write(pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes));
      total += pendingBytes;
      pending = [];
      pendingBytes = 0;
    };
    socket.cork();
    for (const chunk of chunks) {
      if (chunk.length >= TLS_COALESCE_BYTES) {
        flush();
        socket.write(chunk);
        total += chunk.length;
        continue;
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= TLS_COALESCE_BYTES) flush();
    }
    flush();
    socket.uncork();
    this.#bytesOut += total;
    this.#metrics.networkSentBytesTotal.inc(total);
  }
}
