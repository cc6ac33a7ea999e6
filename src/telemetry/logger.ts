/**
 * The process logger: pino, one JSON line per event (what log shippers want), or human-readable output
 * when stdout is a terminal. Pretty printing runs in-process on the main thread (pino-pretty as a
 * stream, not a worker transport): a broker logs little (never per record or per request at info), and
 * a worker thread would outlive a crash's last lines.
 */
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Level, type Logger } from 'pino';

export type { Logger } from 'pino';
export type LoggerLevel = Level | 'silent';

export interface CreateLoggerOptions {
  readonly level: LoggerLevel;
  /** Default: pretty when `process.stdout` is a TTY (and pino-pretty is installed), JSON otherwise. */
  readonly pretty?: boolean;
  /** Default: stdout. Tests pass a stream to capture lines. */
  readonly destination?: DestinationStream;
  /** Fields on every line, e.g. `{ brokerId: 1 }`. */
  readonly base?: Readonly<Record<string, unknown>>;
}

/**
 * Secret-bearing fields are censored wherever a config or store options object gets logged. pino's
 * redaction is path-based, so the paths cover the config shape (src/config) at the depths it is logged.
 */
const REDACT_PATHS = [
  'password',
  'secretAccessKey',
  '*.password',
  '*.secretAccessKey',
  '*.*.password',
  '*.*.secretAccessKey',
  '*.*.*.password',
  '*.*.*.secretAccessKey',
];

type PrettyFactory = (options: Record<string, unknown>) => DestinationStream;

/** pino-pretty is a development convenience; a production install without it falls back to JSON. */
function loadPretty(): PrettyFactory | null {
  try {
    const required = createRequire(import.meta.url)('pino-pretty') as PrettyFactory | { default: PrettyFactory };
    return typeof required === 'function' ? required : required.default;
  } catch {
    return null;
  }
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const pinoOptions = {
    level: options.level,
    base: { pid: process.pid, ...options.base },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Error objects anywhere under `err` (and `error`, which people write too) keep code, cause and stack.
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
  if (options.destination !== undefined && options.pretty !== true) return pino(pinoOptions, options.destination);
  const wantPretty = options.pretty ?? process.stdout.isTTY === true;
  const pretty = wantPretty ? loadPretty() : null;
  if (pretty !== null) {
    const stream = pretty({
      colorize: options.destination === undefined && process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      sync: true,
      ...(options.destination === undefined ? {} : { destination: options.destination }),
    });
    return pino(pinoOptions, stream);
  }
  return pino(pinoOptions, options.destination ?? pino.destination({ fd: 1, sync: false }));
}

/** A logger that discards everything, for tests and tools that have no log output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * A child logger for one component (`component: 'flush'`) or one connection/request. Bindings are
 * serialized once, at creation, so a child per connection costs nothing per line.
 */
export function childLogger(parent: Logger, component: string, bindings?: Readonly<Record<string, unknown>>): Logger {
  return parent.child({ component, ...bindings });
}
