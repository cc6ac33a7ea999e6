/**
 * The log service's values for options a caller leaves out (tests, tools). The broker passes every one
 * that is a setting from its validated config (app/broker-session.ts), so for those the config's
 * CONFIG_DEFAULTS are the defaults that count; services may not import config (layering), so the copies
 * here must equal them — log-defaults.test.ts fails when they drift apart. The others are not settings.
 */
const MIB = 1024 * 1024;

export const LOG_DEFAULTS = {
  flush: {
    /** = CONFIG_DEFAULTS.flushLingerMs */
    lingerMs: 2,
    /** = CONFIG_DEFAULTS.flushMaxBytes */
    maxBytes: 8 * MIB,
    /** = CONFIG_DEFAULTS.flushMaxInflight */
    maxInflight: 4,
    /** = CONFIG_DEFAULTS.flushMaxPendingBytes: queued + in-flight bytes of the broker (PendingBytes). */
    maxPendingBytes: 64 * MIB,
  },
  /** = CONFIG_DEFAULTS.cacheBytes: the range cache of the read path. */
  cacheBytes: 256 * MIB,
  /** = CONFIG_DEFAULTS.logTailBytes: the owners' in-memory tails of acknowledged batches. */
  tailBytes: 16 * MIB,
  /** = CONFIG_DEFAULTS.readAheadBytes: bytes read ahead for sequential readers of object storage. */
  readAheadBytes: 64 * MIB,
  /** Parsed segment indexes (SegmentIndexCache); not a setting. */
  segmentIndexCacheBytes: 16 * MIB,
} as const;
