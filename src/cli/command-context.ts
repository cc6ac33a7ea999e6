/**
 * What every command gets: its output, the client (created on first use, closed by the runner), the
 * process's stdin, and the parsed global options.
 */
import type { Readable } from 'node:stream';
import { KafkaClient } from './kafka-client.ts';
import type { ClientSecurity } from './client-security.ts';
import type { Output } from './output.ts';

export interface GlobalOptions {
  readonly bootstrap: readonly string[];
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly clientId: string;
  /** From --command-config: TLS and SASL for a secured listener. */
  readonly security?: ClientSecurity;
}

export class CommandContext {
  readonly out: Output;
  readonly options: GlobalOptions;
  readonly stdin: Readable;
  #client: KafkaClient | null = null;

  constructor(out: Output, options: GlobalOptions, stdin: Readable) {
    this.out = out;
    this.options = options;
    this.stdin = stdin;
  }

  get client(): KafkaClient {
    this.#client ??= new KafkaClient({
      bootstrap: this.options.bootstrap,
      clientId: this.options.clientId,
      timeoutMs: this.options.timeoutMs,
      ...(this.options.security === undefined ? {} : { security: this.options.security }),
    });
    return this.#client;
  }

  async close(): Promise<void> {
    await this.#client?.close();
  }
}
