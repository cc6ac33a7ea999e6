import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLUSH_PROFILE_NAMES } from '../../src/config/flush-profiles.ts';
import { MERGE_CONSTANTS, profileSettings } from '../../bench/flush-profiles-bench.ts';
import {
  formatProfilesReport,
  GIB,
  metadataWritesPerFlush,
  projectedMergePutsPerGib,
  putsPerGib,
  walPutsPerGib,
  type ProfileRow,
  type ProfilesReport,
} from '../../bench/flush-profiles-report.ts';

const MIB = 1024 * 1024;
const merge = { intervalMs: 5_000, maxSegmentBytes: 64 * MIB };

function row(overrides: Partial<ProfileRow> = {}): ProfileRow {
  // 1 GiB at 128 MiB/s in 32 flushes of 32 MiB.
  return { profile: 'cost', partitions: 1, sizeBytes: 1024, messages: 1_048_576, seconds: 8, bytes: GIB, flushes: 32, puts: 64, metadataWrites: 32, ...overrides };
}

test('PUTs per GiB: WAL PUTs are the flushes, measured PUTs include merges; metadata writes per flush', () => {
  const r = row({ bytes: GIB / 2, flushes: 16, puts: 40, metadataWrites: 32 });
  assert.equal(walPutsPerGib(r), 32);
  assert.equal(putsPerGib(r), 80);
  assert.equal(metadataWritesPerFlush(r), 2);
  assert.ok(Number.isNaN(metadataWritesPerFlush(row({ flushes: 0 }))));
  assert.ok(Number.isNaN(walPutsPerGib(row({ bytes: 0 }))));
});

test('projected merge PUTs: two per merge, a merge folds one partition\'s data up to a segment', () => {
  const cost = { lingerMs: 250, maxBytes: 32 * MIB, maxInflight: 2, mergeMaxWalEntries: 128, mergeMaxWalAgeMs: 300_000 };
  // One partition: 129 flushes of 32 MiB exceed a segment, so every merge writes a full 64 MiB segment.
  assert.equal(projectedMergePutsPerGib(row(), cost, merge), 32);
  // 100 partitions: a merge is due after 129 flushes, 129 × 32 MiB / 100 = 41.28 MiB of each partition.
  assert.ok(Math.abs(projectedMergePutsPerGib(row({ partitions: 100 }), cost, merge) - (2 * 1024) / 41.28) < 1e-9);
  // Balanced at 100 partitions, 2 MiB objects: 17 flushes hold only 0.34 MiB per partition, but a partition
  // merges at most once per 5 s pass: 640 MiB per pass / 100 = 6.4 MiB per merge.
  const balanced = { lingerMs: 2, maxBytes: 8 * MIB, maxInflight: 4, mergeMaxWalEntries: 16, mergeMaxWalAgeMs: 60_000 };
  assert.ok(Math.abs(projectedMergePutsPerGib(row({ partitions: 100, flushes: 512 }), balanced, merge) - 2048 / 6.4) < 1e-9);
  // A slow stream: the age trigger (60 s × 1 MiB/s / 100) wins over the count, still not below one pass.
  const slow = row({ partitions: 100, seconds: 1024, flushes: 100_000 });
  assert.ok(Math.abs(projectedMergePutsPerGib(slow, { ...balanced, mergeMaxWalEntries: 10_000 }, merge) - 2048 / 0.6) < 1e-9);
  assert.ok(Number.isNaN(projectedMergePutsPerGib(row({ flushes: 0 }), cost, merge)));
});

test('the bench compares every profile with the config\'s values, and the merger\'s constants', () => {
  assert.deepEqual(profileSettings('balanced'), { lingerMs: 2, maxBytes: 8 * MIB, maxInflight: 4, mergeMaxWalEntries: 16, mergeMaxWalAgeMs: 60_000 });
  assert.equal(FLUSH_PROFILE_NAMES.length, 3);
  assert.deepEqual(MERGE_CONSTANTS, merge);
});

test('the table puts the profiles side by side per partition count, with latency and settings', () => {
  const report: ProfilesReport = {
    startedAt: '2026-12-03T17:00:00.000Z',
    objectStore: 'filesystem',
    client: 'kbench',
    commit: 'abc1234',
    settleMs: 6_500,
    profiles: { balanced: profileSettings('balanced'), cost: profileSettings('cost') },
    rows: [row({ partitions: 100 }), row({ profile: 'balanced', flushes: 160, puts: 176 }), row()],
    latency: [{ profile: 'cost', partitions: 1, ratePerSec: 1000, messages: 5000, p50Ms: 160.25, p99Ms: 310, p999Ms: 320 }],
  };
  const text = formatProfilesReport(report, merge);
  const lines = text.split('\n');
  const body = lines.filter((l) => /^(1|100) /.test(l));
  assert.deepEqual(body.map((l) => l.split(/\s+/).slice(0, 2)), [['1', 'balanced'], ['1', 'cost'], ['100', 'cost']]);
  // 1 × balanced: 160 flushes per GiB, 176 PUTs measured, steady 160 + 32.
  assert.deepEqual(body[0]?.split(/\s+/).slice(2), ['134.2', '6.4', '160', '176', '192', '0.20', '-', '-', '-']);
  assert.deepEqual(body[1]?.split(/\s+/).slice(2), ['134.2', '32.0', '32', '64', '64', '1.00', '160.3', '310.0', '320.0']);
  assert.match(text, /cost\s+250\s+32\s+2\s+256\s+300/);
  assert.match(text, /filesystem object store, client kbench @ abc1234/);
});
