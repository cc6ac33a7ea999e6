import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFIG_DEFAULTS } from '../../config/config-schema.ts';
import { LOG_DEFAULTS } from './log-defaults.ts';

test('the log service falls back to the config defaults, never to values of its own', () => {
  // Services may not import config (architecture.test.ts), so LOG_DEFAULTS repeats these; they must agree.
  assert.deepEqual(
    { lingerMs: LOG_DEFAULTS.flush.lingerMs, maxBytes: LOG_DEFAULTS.flush.maxBytes, maxInflight: LOG_DEFAULTS.flush.maxInflight, cacheBytes: LOG_DEFAULTS.cacheBytes },
    { lingerMs: CONFIG_DEFAULTS.flushLingerMs, maxBytes: CONFIG_DEFAULTS.flushMaxBytes, maxInflight: CONFIG_DEFAULTS.flushMaxInflight, cacheBytes: CONFIG_DEFAULTS.cacheBytes },
  );
});
