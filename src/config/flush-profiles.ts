/**
 * `flushProfile` (KAFSCALE_FLUSH_PROFILE): named defaults for the write path's flush and merge settings,
 * trading object-store PUTs per GiB against produce latency (docs/design/flush-profiles.md). A profile only
 * supplies defaults: any of the underlying settings given explicitly (flag, environment, file) wins.
 *
 * Object-store requests per GiB produced = WAL PUTs (one per flush: 1 GiB / object size) + merge PUTs
 * (two per merge, a segment and its index: about 2 GiB × partitions / ((mergeMaxWalEntries + 1) × object
 * size), and never fewer than two per 64 MiB segment). `balanced` is exactly what kafscale did before
 * profiles existed, so nothing changes for an existing configuration.
 */
const MIB = 1024 * 1024;

export const FLUSH_PROFILE_NAMES = ['latency', 'balanced', 'cost'] as const;
export type FlushProfileName = (typeof FLUSH_PROFILE_NAMES)[number];

/** The settings a profile supplies defaults for. */
export const PROFILED_SETTINGS = ['flushLingerMs', 'flushIdleLingerMs', 'flushMaxBytes', 'flushMaxInflight', 'mergeMaxWalEntries', 'mergeMaxWalAgeMs'] as const;
export type ProfiledSetting = (typeof PROFILED_SETTINGS)[number];

/**
 * The merge values of `latency` and `balanced` are the merger's own defaults (MERGE_DEFAULTS in
 * src/services/log/segment-merger.ts; src/config imports nothing internal, so they are repeated here).
 */
export const FLUSH_PROFILES = {
  // No linger: a flush starts one macrotask after the first append (appends of one request still share it).
  latency: { flushLingerMs: 0, flushIdleLingerMs: 0, flushMaxBytes: 8 * MIB, flushMaxInflight: 8, mergeMaxWalEntries: 16, mergeMaxWalAgeMs: 60_000 },
  balanced: { flushLingerMs: 2, flushIdleLingerMs: 0, flushMaxBytes: 8 * MIB, flushMaxInflight: 4, mergeMaxWalEntries: 16, mergeMaxWalAgeMs: 60_000 },
  // Objects of up to 32 MiB: two of them fill the flush pipeline's 64 MiB pending-bytes bound, so more in
  // flight would only stall producers. Merging waits for 256 WAL entries per partition (or 5 minutes), so a
  // merge at 100 partitions folds ~40 MiB of a partition's data (16 MiB objects) instead of ~1 MiB.
  cost: { flushLingerMs: 250, flushIdleLingerMs: 250, flushMaxBytes: 32 * MIB, flushMaxInflight: 2, mergeMaxWalEntries: 256, mergeMaxWalAgeMs: 300_000 },
} as const satisfies Record<FlushProfileName, Record<ProfiledSetting, number>>;

export const FLUSH_PROFILE_DEFAULT: FlushProfileName = 'balanced';

export function isFlushProfileName(value: unknown): value is FlushProfileName {
  return typeof value === 'string' && (FLUSH_PROFILE_NAMES as readonly string[]).includes(value);
}

/** The profile name as the schema accepts it: trimmed, any case. */
export function normalizeFlushProfile(value: unknown): unknown {
  return typeof value === 'string' ? value.trim().toLowerCase() : value;
}

/** Human-readable default of a profiled setting, e.g. for `--help`: "from flushProfile (balanced: 2)". */
export function profiledDefaultNote(key: ProfiledSetting): string {
  return `from flushProfile (${FLUSH_PROFILE_NAMES.map((name) => `${name}: ${FLUSH_PROFILES[name][key]}`).join(', ')})`;
}
