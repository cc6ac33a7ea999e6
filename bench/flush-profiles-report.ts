/**
 * The cost-profile comparison's figures and table (`npm run bench:cost`, flush-profiles-bench.ts): pure, so
 * the arithmetic is tested without a broker (test/bench/flush-profiles-report.test.ts).
 *
 * PUTs per GiB produced = WAL PUTs (one per flush) + merge PUTs (a segment and its index per merge). The
 * WAL PUTs of a row are exact (kafscale_flushes_total). Merge PUTs inside a row of a few seconds are a
 * window artefact: a merge pass runs every 5 s, and the cost profile defers merging until a partition has
 * 256 WAL entries, which a row of 150 MB never reaches. So the table also gives the bound on the steady
 * state that the merge policy implies for the measured rate and object size (`projectedMergePutsPerGib`).
 */
import { formatTable } from './bench-report.ts';

export const GIB = 1024 * 1024 * 1024;
const MIB = 1024 * 1024;

export interface ProfileSettings {
  readonly lingerMs: number;
  readonly maxBytes: number;
  readonly maxInflight: number;
  readonly mergeMaxWalEntries: number;
  readonly mergeMaxWalAgeMs: number;
}

export interface ProfileRow {
  readonly profile: string;
  readonly partitions: number;
  readonly sizeBytes: number;
  readonly messages: number;
  readonly seconds: number;
  /** Payload bytes acknowledged (messages × size). */
  readonly bytes: number;
  /** kafscale_flushes_total over the produce (= WAL PUTs). */
  readonly flushes: number;
  /** Object-store PUTs from the produce's start until the settle after it (WAL + merges). */
  readonly puts: number;
  /** Metadata-store writes (put, delete, txn) over the produce. */
  readonly metadataWrites: number;
}

export interface ProfileLatency {
  readonly profile: string;
  readonly partitions: number;
  readonly ratePerSec: number;
  readonly messages: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
}

export interface ProfilesReport {
  readonly startedAt: string;
  readonly objectStore: 'filesystem' | 's3';
  readonly client: string;
  readonly commit: string | null;
  readonly settleMs: number;
  /** The machine's 1-minute load average at the start and end (shared machine: read the latency with it). */
  readonly loadAverage?: { readonly start: number; readonly end: number };
  readonly profiles: Readonly<Record<string, ProfileSettings>>;
  readonly rows: readonly ProfileRow[];
  readonly latency: readonly ProfileLatency[];
}

/** The merger's fixed parameters (MERGE_DEFAULTS in src/services/log/segment-merger.ts). */
export interface MergeConstants {
  readonly intervalMs: number;
  readonly maxSegmentBytes: number;
}

export function walPutsPerGib(row: ProfileRow): number {
  return row.bytes > 0 ? row.flushes / (row.bytes / GIB) : Number.NaN;
}

export function putsPerGib(row: ProfileRow): number {
  return row.bytes > 0 ? row.puts / (row.bytes / GIB) : Number.NaN;
}

export function metadataWritesPerFlush(row: ProfileRow): number {
  return row.flushes > 0 ? row.metadataWrites / row.flushes : Number.NaN;
}

/**
 * A bound on merge PUTs per GiB at steady state, at the row's rate and object size. Each merge writes two
 * objects and folds `b` bytes of one partition's new data; per GiB that is 2 GiB / b PUTs whatever the
 * partition count. `b` is what a partition gathers until its merge is due — mergeMaxWalEntries + 1
 * entries or mergeMaxWalAgeMs, whichever comes first — but never less than one merge pass's worth (one
 * merge per partition per pass) nor more than a segment. It is a bound (the most merges) because it takes
 * every flush to carry every partition (an entry of object size / partitions): true when the linger closes
 * objects; when `flushMaxBytes` does, a flush takes the dirty partitions round-robin until it is full, a
 * partition's entries are larger, and it merges less often.
 */
export function projectedMergePutsPerGib(row: ProfileRow, settings: ProfileSettings, merge: MergeConstants): number {
  if (row.flushes === 0 || row.seconds <= 0) return Number.NaN;
  const rate = row.bytes / row.seconds;
  const perPartition = (bytes: number): number => bytes / row.partitions;
  const byCount = perPartition((settings.mergeMaxWalEntries + 1) * (row.bytes / row.flushes));
  const byAge = perPartition(rate * (settings.mergeMaxWalAgeMs / 1000));
  const byPass = perPartition(rate * (merge.intervalMs / 1000));
  const b = Math.min(merge.maxSegmentBytes, Math.max(Math.min(byCount, byAge), byPass));
  return (2 * GIB) / b;
}

function fixed(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '?';
}

/** One table, profiles side by side per partition count, then the settings of each profile. */
export function formatProfilesReport(report: ProfilesReport, merge: MergeConstants): string {
  const latencyOf = (profile: string, partitions: number): ProfileLatency | undefined => report.latency.find((l) => l.profile === profile && l.partitions === partitions);
  const rows = [...report.rows].sort((a, b) => a.partitions - b.partitions);
  const table = formatTable(
    ['partitions', 'profile', 'MB/s', 'MiB/flush', 'WAL PUTs/GiB', 'PUTs/GiB measured', 'PUTs/GiB bound', 'meta writes/flush', 'p50 ms', 'p99 ms', 'p99.9 ms'],
    rows.map((row) => {
      const settings = report.profiles[row.profile];
      const projected = settings === undefined ? Number.NaN : walPutsPerGib(row) + projectedMergePutsPerGib(row, settings, merge);
      const latency = latencyOf(row.profile, row.partitions);
      return [
        String(row.partitions),
        row.profile,
        fixed(row.bytes / row.seconds / 1e6, 1),
        fixed(row.bytes / row.flushes / MIB, 1),
        fixed(walPutsPerGib(row)),
        fixed(putsPerGib(row)),
        fixed(projected),
        fixed(metadataWritesPerFlush(row), 2),
        latency === undefined ? '-' : fixed(latency.p50Ms, 1),
        latency === undefined ? '-' : fixed(latency.p99Ms, 1),
        latency === undefined ? '-' : fixed(latency.p999Ms, 1),
      ];
    }),
  );
  const settings = formatTable(
    ['profile', 'linger ms', 'max MiB', 'in flight', 'merge after entries', 'merge after s'],
    Object.entries(report.profiles).map(([name, s]) => [name, String(s.lingerMs), fixed(s.maxBytes / MIB), String(s.maxInflight), String(s.mergeMaxWalEntries), fixed(s.mergeMaxWalAgeMs / 1000)]),
  );
  const first = report.rows[0];
  const lat = report.latency[0];
  return [
    `kafscale flush profiles ${report.startedAt} — ${report.objectStore} object store, client ${report.client}${report.commit === null ? '' : ` @ ${report.commit}`}`,
    `produce acks=all, ${first?.sizeBytes ?? '?'} B messages at full speed; PUTs measured from the produce's start to ${report.settleMs / 1000} s after it; latency end to end at ${lat?.ratePerSec ?? '?'} msg/s (${lat?.messages ?? '?'} messages)${report.loadAverage === undefined ? '' : `; load average ${fixed(report.loadAverage.start, 1)} → ${fixed(report.loadAverage.end, 1)}`}`,
    '',
    table,
    '',
    settings,
  ].join('\n');
}
