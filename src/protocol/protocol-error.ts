/**
 * Errors raised by the sans-io protocol layer: KafscaleErrors with the protocol's codes.
 * broker/dispatch.ts closes the connection on them (malformed bytes, an unsupported version).
 */
import { KafscaleError } from '../errors/kafscale-error.ts';

export type ProtocolErrorCode = 'KSC_PROTOCOL_MALFORMED' | 'KSC_PROTOCOL_UNSUPPORTED_VERSION' | 'KSC_FRAME_TOO_LARGE';

export class ProtocolError extends KafscaleError {
  declare readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ProtocolError';
  }
}
