/**
 * The topic-level configs kafscale understands, with Kafka's names, types and defaults. Anything else is
 * INVALID_CONFIG. Some are accepted for tool compatibility but have no effect because of the architecture
 * (every acknowledged write is already durable in object storage, there are no replicas); `effect` says
 * which, and DescribeConfigs documents it.
 */
import type { TimestampRules } from '../../protocol/records/index.ts';

export type ConfigValueType = 'boolean' | 'string' | 'int' | 'long' | 'list' | 'double';

/** Kafka's DescribeConfigs ConfigType values (KIP-336). */
export const CONFIG_TYPE_CODE = {
  boolean: 1,
  string: 2,
  int: 3,
  long: 5,
  double: 6,
  list: 7,
} as const satisfies Record<ConfigValueType, number>;

/** Kafka's DescribeConfigs ConfigSource values. */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

export interface TopicConfigDef {
  readonly type: ConfigValueType;
  readonly defaultValue: string;
  /** Inclusive bounds for numeric types. */
  readonly min?: number;
  readonly max?: number;
  /** Allowed values for string/list types. */
  readonly allowed?: readonly string[];
  /** 'enforced' — kafscale acts on it; 'accepted' — stored and described, no effect here (why in docs). */
  readonly effect: 'enforced' | 'accepted';
}

const LONG_MAX = '9223372036854775807';

export const TOPIC_CONFIGS = {
  'cleanup.policy': { type: 'list', defaultValue: 'delete', allowed: ['delete'], effect: 'enforced' },
  'compression.type': { type: 'string', defaultValue: 'producer', allowed: ['producer'], effect: 'enforced' },
  'delete.retention.ms': { type: 'long', defaultValue: '86400000', min: 0, effect: 'accepted' },
  'file.delete.delay.ms': { type: 'long', defaultValue: '60000', min: 0, effect: 'enforced' },
  'flush.messages': { type: 'long', defaultValue: LONG_MAX, min: 1, effect: 'accepted' },
  'flush.ms': { type: 'long', defaultValue: LONG_MAX, min: 0, effect: 'accepted' },
  'index.interval.bytes': { type: 'int', defaultValue: '4096', min: 0, effect: 'accepted' },
  'max.message.bytes': { type: 'int', defaultValue: '1048588', min: 0, effect: 'enforced' },
  'message.timestamp.type': {
    type: 'string',
    defaultValue: 'CreateTime',
    allowed: ['CreateTime', 'LogAppendTime'],
    effect: 'enforced',
  },
  'message.timestamp.before.max.ms': { type: 'long', defaultValue: LONG_MAX, min: 0, effect: 'enforced' },
  'message.timestamp.after.max.ms': { type: 'long', defaultValue: '3600000', min: 0, effect: 'enforced' },
  'min.insync.replicas': { type: 'int', defaultValue: '1', min: 1, effect: 'accepted' },
  'preallocate': { type: 'boolean', defaultValue: 'false', effect: 'accepted' },
  'retention.bytes': { type: 'long', defaultValue: '-1', min: -1, effect: 'enforced' },
  'retention.ms': { type: 'long', defaultValue: '604800000', min: -1, effect: 'enforced' },
  'segment.bytes': { type: 'int', defaultValue: '1073741824', min: 1048576, effect: 'enforced' },
  'segment.index.bytes': { type: 'int', defaultValue: '10485760', min: 4, effect: 'accepted' },
  'segment.jitter.ms': { type: 'long', defaultValue: '0', min: 0, effect: 'accepted' },
  'segment.ms': { type: 'long', defaultValue: '604800000', min: 1, effect: 'enforced' },
  'unclean.leader.election.enable': { type: 'boolean', defaultValue: 'false', effect: 'accepted' },
} as const satisfies Record<string, TopicConfigDef>;

export type TopicConfigName = keyof typeof TOPIC_CONFIGS;

export function isTopicConfigName(name: string): name is TopicConfigName {
  return Object.hasOwn(TOPIC_CONFIGS, name);
}

/**
 * Validates one config value. Returns null when valid, else an INVALID_CONFIG message naming the config,
 * the value and what is allowed.
 */
export function topicConfigProblem(name: string, value: string | null): string | null {
  if (!isTopicConfigName(name)) return `Unknown topic config name: ${name}`;
  if (value === null) return `Null value not supported for topic config: ${name}`;
  const def: TopicConfigDef = TOPIC_CONFIGS[name];
  switch (def.type) {
    case 'boolean':
      return value === 'true' || value === 'false' ? null : `Invalid value ${value} for configuration ${name}: Expected value to be either true or false`;
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(value.trim())) return `Invalid value ${value} for configuration ${name}: Not a number of type ${def.type.toUpperCase()}`;
      const n = BigInt(value.trim());
      const limit = def.type === 'int' ? 2n ** 31n : 2n ** 63n;
      if (n >= limit || n < -limit) return `Invalid value ${value} for configuration ${name}: out of range for ${def.type.toUpperCase()}`;
      if (def.min !== undefined && n < BigInt(def.min)) return `Invalid value ${value} for configuration ${name}: Value must be at least ${def.min}`;
      if (def.max !== undefined && n > BigInt(def.max)) return `Invalid value ${value} for configuration ${name}: Value must be no more than ${def.max}`;
      return null;
    }
    case 'string':
    case 'list': {
      if (def.allowed === undefined) return null;
      const items = def.type === 'list' ? value.split(',').map((s) => s.trim()) : [value];
      for (const item of items) {
        if (!def.allowed.includes(item)) {
          const hint = name === 'cleanup.policy' ? ' (kafscale does not support compacted topics)' : name === 'compression.type' ? ' (kafscale stores batches as the producer compressed them)' : '';
          return `Invalid value ${value} for configuration ${name}: String must be one of: ${def.allowed.join(', ')}${hint}`;
        }
      }
      return null;
    }
    case 'double':
      return Number.isFinite(Number(value)) ? null : `Invalid value ${value} for configuration ${name}: Not a number of type DOUBLE`;
  }
}

/** The effective value: the topic's override or the default. */
export function effectiveTopicConfig(overrides: Readonly<Record<string, string>>, name: TopicConfigName): string {
  return overrides[name] ?? TOPIC_CONFIGS[name].defaultValue;
}

/**
 * A numeric config as a JS number. Longs beyond 2^53 (the LONG_MAX "forever" defaults) become
 * Number.MAX_SAFE_INTEGER, which every caller treats as "no limit".
 */
export function topicConfigNumber(overrides: Readonly<Record<string, string>>, name: TopicConfigName): number {
  const n = BigInt(effectiveTopicConfig(overrides, name));
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/**
 * The topic's message.timestamp.* configs as the append path applies them (stampBatchTimestamps):
 * LogAppendTime stamps `nowMs`; CreateTime checks record timestamps against before/after.max.ms.
 */
export function timestampRules(overrides: Readonly<Record<string, string>>, nowMs: number): TimestampRules {
  return {
    logAppendTimeMs: effectiveTopicConfig(overrides, 'message.timestamp.type') === 'LogAppendTime' ? nowMs : -1,
    nowMs,
    beforeMaxMs: topicConfigNumber(overrides, 'message.timestamp.before.max.ms'),
    afterMaxMs: topicConfigNumber(overrides, 'message.timestamp.after.max.ms'),
  };
}
