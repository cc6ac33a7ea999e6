/**
 * KIP-848 per-group configs (Kafka's GroupConfig: DescribeConfigs / AlterConfigs /
 * IncrementalAlterConfigs on GROUP resources): `consumer.session.timeout.ms` and
 * `consumer.heartbeat.interval.ms`, overriding the broker's group settings for one group. One metadata key
 * per group with overrides, mirrored on every broker (a watched prefix), so the coordinator of a group
 * sees an override set through any broker.
 */
import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { MetadataStore } from '../../storage/meta/metadata-store.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import type { ConfigAlteration } from '../cluster/topic-registry.ts';
import { WatchedPrefix } from '../cluster/watched-prefix.ts';

export const GROUP_SESSION_TIMEOUT = 'consumer.session.timeout.ms';
export const GROUP_HEARTBEAT_INTERVAL = 'consumer.heartbeat.interval.ms';
export const GROUP_CONFIG_NAMES: readonly string[] = [GROUP_SESSION_TIMEOUT, GROUP_HEARTBEAT_INTERVAL];

export interface GroupConfigOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

const OK: GroupConfigOutcome = { errorCode: ErrorCode.NONE, errorMessage: null };
const invalid = (errorMessage: string): GroupConfigOutcome => ({ errorCode: ErrorCode.INVALID_CONFIG, errorMessage });
/** Writes racing another broker's before giving up. */
const MAX_WRITE_ATTEMPTS = 5;

export class GroupConfigs {
  readonly #store: MetadataStore;
  readonly #log: Logger;
  #mirror: WatchedPrefix | null = null;
  #closed = false;

  constructor(store: MetadataStore, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /** Starts mirroring the overrides; until it has, every group has the broker's values. */
  async open(): Promise<void> {
    const mirror = await WatchedPrefix.open(this.#store, MetaKeys.groupConfigsPrefix, this.#log);
    // Closed while opening: do not leave a watch behind.
    if (this.#closed) await mirror.close();
    else this.#mirror = mirror;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#mirror?.close();
    this.#mirror = null;
  }

  /** A group's overrides, name → value. */
  overrides(groupId: string): Record<string, string> {
    const kv = this.#mirror?.get(MetaKeys.groupConfig(groupId));
    if (kv === undefined) return {};
    try {
      return JSON.parse(kv.value.toString('utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }

  /** An override as a number (ms), or undefined. */
  valueMs(groupId: string, name: string): number | undefined {
    const value = this.overrides(groupId)[name];
    return value === undefined ? undefined : Number(value);
  }

  /**
   * AlterConfigs (incremental = false: the given set replaces every override) and IncrementalAlterConfigs
   * (set / delete). Values are positive integers and the heartbeat interval must stay below the session
   * timeout (as Kafka's GroupConfig validation), with `defaults` for what is not overridden.
   */
  async alter(
    groupId: string,
    alterations: readonly ConfigAlteration[],
    options: { readonly incremental: boolean; readonly validateOnly: boolean },
    defaults: { readonly sessionTimeoutMs: number; readonly heartbeatIntervalMs: number },
  ): Promise<GroupConfigOutcome> {
    if (groupId === '') return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'A GROUP resource needs a group id.' };
    const key = MetaKeys.groupConfig(groupId);
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await this.#store.get(key);
      const next: Record<string, string> = options.incremental && current !== null ? (JSON.parse(current.value.toString('utf8')) as Record<string, string>) : {};
      const seen = new Set<string>();
      for (const alteration of alterations) {
        if (seen.has(alteration.name)) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Config ${alteration.name} appears more than once in the request.` };
        seen.add(alteration.name);
        if (!GROUP_CONFIG_NAMES.includes(alteration.name)) return invalid(`Unknown group config name: ${alteration.name} (kafscale has ${GROUP_CONFIG_NAMES.join(', ')})`);
        if (alteration.op === 'delete') {
          delete next[alteration.name];
          continue;
        }
        if (alteration.op !== 'set') return invalid(`Config ${alteration.name} is not a list; APPEND and SUBTRACT apply to list configs only.`);
        const value = alteration.value ?? '';
        if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 2_147_483_647) return invalid(`Invalid value ${value} for ${alteration.name}: a positive integer (ms) is needed.`);
        next[alteration.name] = value;
      }
      const sessionMs = Number(next[GROUP_SESSION_TIMEOUT] ?? defaults.sessionTimeoutMs);
      const heartbeatMs = Number(next[GROUP_HEARTBEAT_INTERVAL] ?? defaults.heartbeatIntervalMs);
      if (heartbeatMs >= sessionMs) return invalid(`${GROUP_HEARTBEAT_INTERVAL} (${heartbeatMs}) must be less than ${GROUP_SESSION_TIMEOUT} (${sessionMs}).`);
      if (options.validateOnly) return OK;
      const compare = [{ key, target: 'modRevision' as const, op: '==' as const, value: current?.modRevision ?? 0 }];
      const empty = Object.keys(next).length === 0;
      const value = Buffer.from(JSON.stringify(next));
      const result = await this.#store.txn({ compare, success: [empty ? { type: 'delete', key } : { type: 'put', key, value }] });
      if (!result.succeeded) continue;
      // Read-your-writes on this broker before the watch event arrives.
      this.#mirror?.applyLocal(key, empty ? null : { key, value, createRevision: current?.createRevision ?? result.revision, modRevision: result.revision, version: (current?.version ?? 0) + 1, lease: null }, result.revision);
      return OK;
    }
    return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: `The configs of group ${groupId} kept changing under ${MAX_WRITE_ATTEMPTS} attempts; retry.` };
  }
}
