/**
 * GET /api/v1/overview: the cluster as this broker sees it — live brokers, store health, totals and
 * this broker's rates. Numbers about other brokers that only they know (their rates, uptime from their
 * registration is known) are null. Store probes are cached for a few seconds: the overview is polled.
 */
import { isInternalTopic } from '../services/cluster/index.ts';
import { Op, Resource, type ConsoleAccess } from './console-access.ts';
import type { ConsoleDeps, StoreHealth } from './console-deps.ts';
import { groupsVisibleTo } from './groups-view.ts';

const PROBE_CACHE_MS = 3_000;
const PROBE_TIMEOUT_MS = 2_000;

export interface StoreState {
  readonly kind: string;
  readonly healthy: boolean;
  readonly detail: string | null;
}

export class OverviewView {
  readonly #deps: ConsoleDeps;
  readonly #probes = new Map<StoreHealth, { atMs: number; state: Promise<StoreState> }>();

  constructor(deps: ConsoleDeps) {
    this.#deps = deps;
  }

  async render(access: ConsoleAccess): Promise<unknown> {
    const { services, history } = this.#deps;
    const nowMs = Date.now();
    const self = services.settings.brokerId;
    const topics = services.topics.list().filter((t) => !isInternalTopic(t.name));
    const owned = new Map<number, number>();
    for (const topic of topics) {
      for (let p = 0; p < topic.partitions; p++) {
        const leader = services.leaders.leaderOf(topic.id, p).brokerId;
        owned.set(leader, (owned.get(leader) ?? 0) + 1);
      }
    }
    const rates = history.latest();
    let ownedHere: number | null = null;
    try {
      ownedHere = services.logs.ownedLogs().length;
    } catch {
      // No session (recovering): the count is unknown for a moment.
    }
    const brokers = services.brokers.live().map((b) => ({
      id: b.brokerId,
      host: b.host,
      port: b.port,
      rack: b.rack,
      uptimeMs: b.startedMs > 0 ? Math.max(0, nowMs - b.startedMs) : null,
      partitionsOwned: b.brokerId === self ? ownedHere : (owned.get(b.brokerId) ?? 0),
      produceBytesPerSec: b.brokerId === self ? rates.bytesInPerSec : null,
      fetchBytesPerSec: b.brokerId === self ? rates.bytesOutPerSec : null,
      self: b.brokerId === self,
    }));
    const [metadataStore, objectStore, groups] = await Promise.all([this.#health(this.#deps.metadataStore), this.#health(this.#deps.objectStore), groupsVisibleTo(this.#deps, access)]);
    const visible = topics.filter((t) => access.can(Op.DESCRIBE, Resource.TOPIC, t.name));
    return {
      clusterId: services.clusterId,
      brokerId: self,
      brokers,
      metadataStore,
      objectStore,
      totals: {
        topics: visible.length,
        partitions: visible.reduce((n, t) => n + t.partitions, 0),
        groups: groups.length,
        bytesInPerSec: rates.bytesInPerSec,
        bytesOutPerSec: rates.bytesOutPerSec,
        recordsInPerSec: rates.recordsInPerSec,
        recordsOutPerSec: rates.recordsOutPerSec,
      },
    };
  }

  #health(store: StoreHealth): Promise<StoreState> {
    const cached = this.#probes.get(store);
    if (cached !== undefined && Date.now() - cached.atMs < PROBE_CACHE_MS) return cached.state;
    const state = probe(store);
    this.#probes.set(store, { atMs: Date.now(), state });
    return state;
  }
}

async function probe(store: StoreHealth): Promise<StoreState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${PROBE_TIMEOUT_MS} ms`), PROBE_TIMEOUT_MS);
  });
  try {
    const problem = await Promise.race([store.probe().catch((error: unknown) => (error instanceof Error ? error.message : String(error))), timeout]);
    return { kind: store.kind, healthy: problem === null, detail: problem };
  } finally {
    clearTimeout(timer);
  }
}
