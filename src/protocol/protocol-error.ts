/**
 * Errors raised by the sans-io protocol layer. The protocol layer imports nothing from the rest of
 * src/, so it cannot use telemetry's KafscaleError; these carry the same kind of stable KSC_* code and
 * broker/dispatch.ts maps them (malformed → close the connection).
 */
export type ProtocolErrorCode = 'KSC_PROTOCOL_MALFORMED' | 'KSC_PROTOCOL_UNSUPPORTED_VERSION' | 'KSC_FRAME_TOO_LARGE';

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProtocolError';
    this.code = code;
  }
}
