import type { Logger } from 'pino';
import type { BrokerServices } from '../broker/broker-services.ts';
import type { MetricsHistory } from './metrics-history.ts';

/** A store's health for the overview: its kind and a probe resolving to null when healthy, else why not. */
export interface StoreHealth {
  readonly kind: string;
  readonly probe: () => Promise<string | null>;
}

/** What the console's views and actions read and act through; built once by ConsoleApi. */
export interface ConsoleDeps {
  readonly services: BrokerServices;
  readonly history: MetricsHistory;
  readonly metadataStore: StoreHealth;
  readonly objectStore: StoreHealth;
  /** KAFSCALE_CONSOLE_MAX_BYTES: record bytes per browse request, and the largest test message. */
  readonly maxBytes: number;
  readonly log: Logger;
}
