import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFIG_DEFAULTS } from '../../config/config-schema.ts';
import { FLUSH_PROFILE_DEFAULT, FLUSH_PROFILES } from '../../config/flush-profiles.ts';
import { LOG_DEFAULTS } from './log-defaults.ts';
import { MERGE_DEFAULTS } from './segment-merger.ts';

test('the log service falls back to the config defaults, never to values of its own', () => {
  // Services may not import config (architecture.test.ts), so LOG_DEFAULTS and MERGE_DEFAULTS repeat the
  // default flush profile's values; they must agree.
  const profile = FLUSH_PROFILES[FLUSH_PROFILE_DEFAULT];
  assert.deepEqual(
    {
      lingerMs: LOG_DEFAULTS.flush.lingerMs,
      maxBytes: LOG_DEFAULTS.flush.maxBytes,
      maxInflight: LOG_DEFAULTS.flush.maxInflight,
      maxPendingBytes: LOG_DEFAULTS.flush.maxPendingBytes,
      cacheBytes: LOG_DEFAULTS.cacheBytes,
      tailBytes: LOG_DEFAULTS.tailBytes,
      readAheadBytes: LOG_DEFAULTS.readAheadBytes,
      maxWalEntries: MERGE_DEFAULTS.maxWalEntries,
      maxWalAgeMs: MERGE_DEFAULTS.maxWalAgeMs,
    },
    {
      lingerMs: profile.flushLingerMs,
      maxBytes: profile.flushMaxBytes,
      maxInflight: profile.flushMaxInflight,
      maxPendingBytes: CONFIG_DEFAULTS.flushMaxPendingBytes,
      cacheBytes: CONFIG_DEFAULTS.cacheBytes,
      tailBytes: CONFIG_DEFAULTS.logTailBytes,
      readAheadBytes: CONFIG_DEFAULTS.readAheadBytes,
      maxWalEntries: profile.mergeMaxWalEntries,
      maxWalAgeMs: profile.mergeMaxWalAgeMs,
    },
  );
});
