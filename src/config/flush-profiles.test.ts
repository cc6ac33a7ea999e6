import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { MERGE_DEFAULTS } from '../services/log/segment-merger.ts';
import { CONFIG_SETTINGS, ConfigError, describeConfigSources, formatConfigHelp, loadConfig, type KafscaleConfig } from './index.ts';
import { FLUSH_PROFILE_NAMES, FLUSH_PROFILES, PROFILED_SETTINGS } from './flush-profiles.ts';

const MIB = 1024 * 1024;
const cwd = mkdtempSync(join(tmpdir(), 'kafscale-profile-'));
after(() => rmSync(cwd, { recursive: true, force: true }));

function load(argv: string[] = [], env: Record<string, string> = {}): KafscaleConfig {
  return loadConfig({ argv, env, cwd });
}

function sourceOf(config: KafscaleConfig, key: string): { source: string; value: string | null } | undefined {
  const found = describeConfigSources(config).sources.find((s) => s.key === key);
  return found === undefined ? undefined : { source: found.source, value: found.value };
}

describe('flushProfile', () => {
  test('default is balanced: exactly the flush and merge values kafscale used before profiles', () => {
    const config = load();
    assert.deepEqual(config.flush, { profile: 'balanced', lingerMs: 2, idleLingerMs: 0, maxBytes: 8 * MIB, maxInflight: 4, maxPendingBytes: 64 * MIB });
    assert.deepEqual(config.merge, { maxWalEntries: 16, maxWalAgeMs: 60_000 });
    // The merger's own defaults, which src/config repeats rather than imports.
    assert.equal(FLUSH_PROFILES.balanced.mergeMaxWalEntries, MERGE_DEFAULTS.maxWalEntries);
    assert.equal(FLUSH_PROFILES.balanced.mergeMaxWalAgeMs, MERGE_DEFAULTS.maxWalAgeMs);
    assert.deepEqual(sourceOf(config, 'flushProfile'), { source: 'default', value: 'balanced' });
    for (const key of PROFILED_SETTINGS) assert.equal(sourceOf(config, key)?.source, 'profile', key);
  });

  test('each profile supplies its values, from the environment, a flag or a file, in any case', () => {
    for (const name of FLUSH_PROFILE_NAMES) {
      const p = FLUSH_PROFILES[name];
      const expect = (config: KafscaleConfig): void => {
        assert.deepEqual(config.flush, { profile: name, lingerMs: p.flushLingerMs, idleLingerMs: p.flushIdleLingerMs, maxBytes: p.flushMaxBytes, maxInflight: p.flushMaxInflight, maxPendingBytes: 64 * MIB });
        assert.deepEqual(config.merge, { maxWalEntries: p.mergeMaxWalEntries, maxWalAgeMs: p.mergeMaxWalAgeMs });
      };
      expect(load([], { KAFSCALE_FLUSH_PROFILE: name }));
      expect(load(['--flush-profile', ` ${name.toUpperCase()} `]));
      const file = join(cwd, `${name}.json`);
      writeFileSync(file, JSON.stringify({ flushProfile: name }));
      expect(load(['--config', file]));
    }
    const cost = load([], { KAFSCALE_FLUSH_PROFILE: 'cost' });
    assert.deepEqual(cost.flush, { profile: 'cost', lingerMs: 250, idleLingerMs: 250, maxBytes: 32 * MIB, maxInflight: 2, maxPendingBytes: 64 * MIB });
    assert.deepEqual(cost.merge, { maxWalEntries: 256, maxWalAgeMs: 300_000 });
    assert.deepEqual(sourceOf(cost, 'flushProfile'), { source: 'env', value: 'cost' });
    assert.deepEqual(sourceOf(cost, 'flushMaxBytes'), { source: 'profile', value: String(32 * MIB) });
  });

  test('an explicitly set underlying setting wins over the profile, and the report says where each came from', () => {
    const file = join(cwd, 'linger.json');
    writeFileSync(file, JSON.stringify({ mergeMaxWalAgeMs: 90_000 }));
    const config = load(['--config', file, '--flush-max-inflight', '3'], { KAFSCALE_FLUSH_PROFILE: 'cost', KAFSCALE_FLUSH_LINGER_MS: '40' });
    // The profile's idle linger (250) never exceeds an explicit linger.
    assert.deepEqual(config.flush, { profile: 'cost', lingerMs: 40, idleLingerMs: 40, maxBytes: 32 * MIB, maxInflight: 3, maxPendingBytes: 64 * MIB });
    assert.deepEqual(config.merge, { maxWalEntries: 256, maxWalAgeMs: 90_000 });
    assert.deepEqual(sourceOf(config, 'flushLingerMs'), { source: 'env', value: '40' });
    assert.deepEqual(sourceOf(config, 'flushMaxInflight'), { source: 'flag', value: '3' });
    assert.deepEqual(sourceOf(config, 'mergeMaxWalAgeMs'), { source: 'file', value: '90000' });
    assert.deepEqual(sourceOf(config, 'flushMaxBytes'), { source: 'profile', value: String(32 * MIB) });
    assert.deepEqual(sourceOf(config, 'mergeMaxWalEntries'), { source: 'profile', value: '256' });
    // The same without a profile: explicit values over balanced.
    const plain = load([], { KAFSCALE_FLUSH_MAX_BYTES: '1048576' });
    assert.deepEqual(plain.flush, { profile: 'balanced', lingerMs: 2, idleLingerMs: 0, maxBytes: MIB, maxInflight: 4, maxPendingBytes: 64 * MIB });
    // The idle linger set explicitly: kept (within the linger).
    const idle = load([], { KAFSCALE_FLUSH_IDLE_LINGER_MS: '1', KAFSCALE_FLUSH_LINGER_MS: '5' });
    assert.deepEqual(idle.flush, { profile: 'balanced', lingerMs: 5, idleLingerMs: 1, maxBytes: 8 * MIB, maxInflight: 4, maxPendingBytes: 64 * MIB });
    assert.equal(load([], { KAFSCALE_FLUSH_IDLE_LINGER_MS: '9' }).flush.idleLingerMs, 2, 'capped at the linger');
  });

  test('an unknown profile is a ConfigError naming the setting and the choices; every problem is reported', () => {
    let caught: unknown;
    try {
      load(['--flush-max-inflight', '0'], { KAFSCALE_FLUSH_PROFILE: 'cheap' });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof ConfigError, String(caught));
    assert.equal(caught.code, 'KSC_CONFIG_INVALID');
    assert.ok(caught.problems.includes('KAFSCALE_FLUSH_PROFILE must be one of latency, balanced, cost (got "cheap")'), caught.problems.join('\n'));
    assert.ok(caught.problems.some((p) => p.startsWith('--flush-max-inflight must be an integer from 1 to 1024')), caught.problems.join('\n'));
    assert.throws(() => load(['--flush-profile', '']), (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.startsWith('--flush-profile')));
    assert.throws(() => load([], { KAFSCALE_MERGE_MAX_WAL_ENTRIES: '0' }), /KAFSCALE_MERGE_MAX_WAL_ENTRIES must be an integer from 1 to 10000/);
  });

  test('help and the settings table name the profile and show each profiled default per profile', () => {
    const help = formatConfigHelp();
    assert.match(help, /--flush-profile <value> {2}\(KAFSCALE_FLUSH_PROFILE\).*\[default: balanced\]/);
    assert.match(help, /--flush-linger-ms <value>.*\[default: from flushProfile \(latency: 0, balanced: 2, cost: 250\)\]/);
    assert.ok(CONFIG_SETTINGS.some((s) => s.env === 'KAFSCALE_MERGE_MAX_WAL_AGE_MS'));
  });
});
