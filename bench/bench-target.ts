/**
 * The broker a bench run measures: one it starts itself (test/helpers/broker-process.ts semantics, a
 * fresh data directory, loopback ports) or an existing one given with --bootstrap (and --ops for its
 * metrics). Only an owned broker can be restarted (cold reads) and have its peak RSS read from /proc.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startBroker, type BrokerProcess } from '../test/helpers/broker-process.ts';
import { brokerS3Env, startS3Server, type S3TestServer } from '../test/helpers/s3-server.ts';
import { WireClient } from '../test/helpers/wire-client.ts';
import { parsePrometheusText, type MetricFamily } from './prometheus-text.ts';

export interface BenchTarget {
  readonly bootstrap: string;
  readonly host: string;
  readonly port: number;
  /** `host:port` of the ops HTTP listener, or null when unknown (an external broker without --ops). */
  readonly opsAddress: string | null;
  readonly owned: boolean;
  /** The object store of a broker the bench started; null for an external broker (unknown). */
  readonly objectStoreKind: 'filesystem' | 's3' | null;
  /** Restart the broker on the same data; only for an owned broker. */
  restart(): Promise<void>;
  /** Highest VmHWM (peak resident set) over every process this target has run, in bytes; null if unknown. */
  peakRssBytes(): number | null;
  /** Files under `<dataDir>/objects` (the filesystem object store); null for an external broker. */
  objectFileCount(): number | null;
  scrapeMetrics(): Promise<Map<string, MetricFamily> | null>;
  close(): Promise<void>;
}

const SCRAPE_TIMEOUT_MS = 5_000;

/** VmHWM of a Linux process, in bytes; null when /proc is unavailable or the process is gone. */
function readPeakRss(pid: number): number | null {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

function countFiles(dir: string): number {
  let count = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const entry of entries) if (entry.isFile()) count++;
  return count;
}

async function scrape(opsAddress: string | null): Promise<Map<string, MetricFamily> | null> {
  if (opsAddress === null) return null;
  const response = await fetch(`http://${opsAddress}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`GET http://${opsAddress}/metrics answered ${response.status}`);
  return parsePrometheusText(await response.text());
}

/**
 * `env`: extra KAFSCALE_* settings for the broker the bench starts (e.g. KAFSCALE_FLUSH_PROFILE); they
 * win over the bench's own (the S3 settings).
 */
export async function startOwnedTarget(options: { readonly s3?: boolean; readonly env?: Readonly<Record<string, string>> } = {}): Promise<BenchTarget> {
  // A local S3 server (s3rver) instead of the filesystem store: HTTP PUT/GET per object, as a bucket.
  const s3: S3TestServer | null = options.s3 === true ? await startS3Server() : null;
  const env: Record<string, string> = s3 === null ? {} : brokerS3Env(s3);
  // 'warn': the broker's info log is per connection and would cost CPU the measurement needs.
  let broker: BrokerProcess;
  try {
    broker = await startBroker({ logLevel: 'warn', env: { ...env, ...options.env } });
  } catch (error) {
    await s3?.stop();
    throw error;
  }
  let peak: number | null = null;
  const notePeak = (): void => {
    const rss = readPeakRss(broker.pid);
    if (rss !== null && (peak === null || rss > peak)) peak = rss;
  };
  return {
    bootstrap: broker.bootstrap,
    host: broker.host,
    port: broker.port,
    opsAddress: `${broker.host}:${broker.opsPort}`,
    owned: true,
    objectStoreKind: s3 === null ? 'filesystem' : 's3',
    async restart() {
      notePeak();
      await broker.restart();
    },
    peakRssBytes() {
      notePeak();
      return peak;
    },
    objectFileCount: () => countFiles(join(broker.dataDir, 'objects')),
    scrapeMetrics: () => scrape(`${broker.host}:${broker.opsPort}`),
    async close() {
      notePeak();
      try {
        await broker.stop();
      } finally {
        await s3?.stop();
      }
    },
  };
}

export function externalTarget(bootstrap: string, opsAddress: string | null): BenchTarget {
  const [host = '127.0.0.1', portText = '9092'] = bootstrap.split(',')[0]?.split(':') ?? [];
  return {
    bootstrap,
    host,
    port: Number(portText),
    opsAddress,
    owned: false,
    objectStoreKind: null,
    restart: () => Promise.reject(new Error('cannot restart a broker the bench did not start')),
    peakRssBytes: () => null,
    objectFileCount: () => null,
    scrapeMetrics: () => scrape(opsAddress),
    close: () => Promise.resolve(),
  };
}

/** API keys the broker advertises in ApiVersions (v3), e.g. to skip what is not served yet. */
export async function advertisedApiKeys(target: BenchTarget): Promise<Set<number>> {
  const client = await WireClient.connect(target.host, target.port, 'kafscale-bench');
  try {
    const response = await client.send(18, 3, { clientSoftwareName: 'kafscale-bench', clientSoftwareVersion: '1' });
    return new Set(response.apiKeys.map((entry) => entry.apiKey));
  } finally {
    client.close();
  }
}

/** Produce 0, Fetch 1, ListOffsets 2, Metadata 3, CreateTopics 19: what any bench workload needs. */
export const REQUIRED_API_KEYS: Readonly<Record<number, string>> = { 0: 'Produce', 1: 'Fetch', 2: 'ListOffsets', 3: 'Metadata', 19: 'CreateTopics' };

/** The names of required APIs the broker does not advertise; empty when the bench can run. */
export function missingApis(advertised: ReadonlySet<number>): string[] {
  return Object.entries(REQUIRED_API_KEYS)
    .filter(([key]) => !advertised.has(Number(key)))
    .map(([key, name]) => `${name} (${key})`);
}
