/**
 * What the parts of the MetadataStore contract share: the fixture, the per-test runner and small
 * assertions. The contract itself: metadata-store-contract.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import type { KafscaleErrorCode } from '../../telemetry/kafscale-error.ts';
import type { MetadataStore, WatchEvent, WatchHandler } from './metadata-store.ts';

export interface ContractFixture {
  readonly store: MetadataStore;
  /** Closes every store the fixture opened and removes its data. */
  cleanup(): Promise<void>;
  /**
   * Opens a second store on the same data after `store` was closed (same directory, same etcd
   * namespace). Used to check that leases of a dead process expire.
   */
  reopen?(): Promise<MetadataStore>;
}

export type ContractFactory = () => Promise<ContractFixture>;

/**
 * A fixture over the store `connect` opens; `reopen` connects again to the same data (e.g. the same
 * etcd namespace), and cleanup closes every store it opened.
 */
export async function reconnectingFixture(connect: () => Promise<MetadataStore>): Promise<ContractFixture> {
  const stores: MetadataStore[] = [];
  const store = await connect();
  stores.push(store);
  return {
    store,
    reopen: async () => {
      const again = await connect();
      stores.push(again);
      return again;
    },
    cleanup: async () => {
      for (const s of stores) await s.close();
    },
  };
}

/** Declares one contract test: `body` runs against a fresh fixture that is always cleaned up. */
export type ContractTest = (title: string, body: (fx: ContractFixture) => Promise<void>) => void;

export function contractTest(name: string, factory: ContractFactory): ContractTest {
  return (title, body) => {
    test(`${name}: ${title}`, async (t) => {
      const fx = await factory();
      t.after(() => fx.cleanup());
      await body(fx);
    });
  };
}

export const b = (text: string): Buffer => Buffer.from(text, 'utf8');

export async function sleep(ms: number): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(resolve, ms));
}

/** Polls a condition with a hard deadline; every loop in a test is bounded. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(25);
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function assertRejectsWith(promise: Promise<unknown>, code: KafscaleErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isKafscaleError(error, code), `expected ${code}, got ${String(error)}`);
    return true;
  });
}

/** Blocks the event loop, as a long GC pause or a stuck synchronous task would. */
export function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy wait on purpose: timers (and keep-alives) must not run
  }
}

export class Collector implements WatchHandler {
  readonly batches: WatchEvent[][] = [];
  readonly errors: Error[] = [];
  onEvents(events: readonly WatchEvent[]): void {
    this.batches.push([...events]);
  }
  onError(error: Error): void {
    this.errors.push(error);
  }
  get events(): WatchEvent[] {
    return this.batches.flat();
  }
}

export function summary(events: readonly WatchEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.key}=${e.kv.value.toString()}`);
}
