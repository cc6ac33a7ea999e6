/**
 * Loads the configuration once: flags > environment > JSON file > defaults, validated with every problem
 * reported at once, then deep-frozen. This module is the only reader of the environment in kafscale, and
 * even here the caller passes `env` in (so tests never touch process.env).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type * as z from 'zod';
import { ConfigError } from './config-error.ts';
import { CONFIG_DEFAULTS, configSchema, type KafscaleConfig, type SettingKey } from './config-schema.ts';
import {
  CONFIG_FILE_ENV,
  CONFIG_FILE_FLAG,
  CONFIG_SETTINGS,
  SETTINGS_BY_ENV,
  SETTINGS_BY_FLAG,
  SETTINGS_BY_KEY,
  type SettingInfo,
} from './config-settings.ts';
import { FLUSH_PROFILES, isFlushProfileName, normalizeFlushProfile, PROFILED_SETTINGS } from './flush-profiles.ts';

/** 'profile': not given, so the value of the chosen `flushProfile` (flush-profiles.ts). */
export type ConfigSource = 'flag' | 'env' | 'file' | 'default' | 'profile' | 'unset';

export interface LoadConfigOptions {
  /** Broker options only (no node binary, script or subcommand), e.g. ['--broker-addr', ':9092']. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative paths (data dir, TLS files, config file) resolve against this. */
  readonly cwd: string;
}

export interface SettingSource {
  readonly key: SettingKey;
  readonly env: string;
  readonly flag: string;
  readonly source: ConfigSource;
  /** The raw value as given; '[redacted]' for secrets; null when unset. */
  readonly value: string | null;
}

export interface ConfigReport {
  readonly configFile: string | null;
  readonly sources: readonly SettingSource[];
  /** Not fatal, but worth a log line: e.g. an unknown KAFSCALE_* variable (a typo?). */
  readonly warnings: readonly string[];
}

const REDACTED = '[redacted]';
const reports = new WeakMap<object, ConfigReport>();

interface RawValue {
  readonly value: unknown;
  readonly source: Exclude<ConfigSource, 'unset'>;
}

const BOOLEAN_KEYS: ReadonlySet<SettingKey> = new Set(
  (Object.entries(CONFIG_DEFAULTS) as [SettingKey, unknown][]).filter(([, v]) => typeof v === 'boolean').map(([k]) => k),
);

interface ParsedArgs {
  readonly values: Map<SettingKey, string>;
  readonly configFile: string | undefined;
}

function parseArgs(argv: readonly string[], problems: string[]): ParsedArgs {
  const values = new Map<SettingKey, string>();
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) {
      problems.push(`unexpected argument "${arg}"; settings are given as --name value (see --help)`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    const negated = name.startsWith('--no-') ? SETTINGS_BY_FLAG.get(`--${name.slice(5)}`) : undefined;
    if (negated !== undefined && BOOLEAN_KEYS.has(negated.key) && value === undefined) {
      values.set(negated.key, 'false');
      continue;
    }
    const setting = SETTINGS_BY_FLAG.get(name);
    if (setting === undefined && name !== CONFIG_FILE_FLAG) {
      problems.push(`unknown flag ${name} (see --help for the list of settings)`);
      continue;
    }
    if (value === undefined) {
      const next = argv[i + 1];
      if (setting !== undefined && BOOLEAN_KEYS.has(setting.key) && (next === undefined || next.startsWith('--'))) {
        value = 'true';
      } else if (next === undefined || next.startsWith('--')) {
        problems.push(`${name} needs a value`);
        continue;
      } else {
        value = next;
        i++;
      }
    }
    if (setting === undefined) configFile = value;
    else values.set(setting.key, value);
  }
  return { values, configFile };
}

function readConfigFile(path: string, origin: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`${origin}: cannot read config file ${path}: ${(error as Error).message}`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    problems.push(`${origin}: config file ${path} is not valid JSON: ${(error as Error).message}`);
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`${origin}: config file ${path} must hold a JSON object of settings, e.g. {"brokerId": 1}`);
    return {};
  }
  const known: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (SETTINGS_BY_KEY.has(key as SettingKey)) known[key] = value;
    else problems.push(`config file ${path}: unknown setting "${key}" (keys are camelCase, e.g. "brokerAddr")`);
  }
  return known;
}

/** Names a setting the way the user gave it, so the message says what to change. */
function label(setting: SettingInfo, source: ConfigSource, configFile: string | null): string {
  switch (source) {
    case 'flag':
      return setting.flag;
    case 'env':
      return setting.env;
    case 'file':
      return `"${setting.key}" in ${configFile ?? 'the config file'}`;
    default:
      return `${setting.env} (${setting.flag})`;
  }
}

function display(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
}

function issueMessage(issue: z.core.$ZodIssue, raw: ReadonlyMap<SettingKey, RawValue>, configFile: string | null): string {
  const key = issue.path[0];
  const setting = typeof key === 'string' ? SETTINGS_BY_KEY.get(key as SettingKey) : undefined;
  if (setting === undefined) return issue.message;
  const given = raw.get(setting.key);
  const text = issue.message.replace(/\{(\w+)\}/g, (whole, ref: string) => {
    const other = SETTINGS_BY_KEY.get(ref as SettingKey);
    return other === undefined ? whole : label(other, raw.get(other.key)?.source ?? 'unset', configFile);
  });
  const got = given === undefined || setting.secret ? '' : ` (got ${display(given.value)})`;
  return `${label(setting, given?.source ?? 'unset', configFile)} ${text}${got}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export function loadConfig(options: LoadConfigOptions): KafscaleConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  const args = parseArgs(options.argv, problems);

  const envFile = options.env[CONFIG_FILE_ENV]?.trim();
  const fileArg = args.configFile ?? (envFile === '' ? undefined : envFile);
  const configFile = fileArg === undefined ? null : resolve(options.cwd, fileArg);
  const fromFile =
    configFile === null
      ? {}
      : readConfigFile(configFile, args.configFile !== undefined ? CONFIG_FILE_FLAG : CONFIG_FILE_ENV, problems);

  const raw = new Map<SettingKey, RawValue>();
  for (const setting of CONFIG_SETTINGS) {
    const flag = args.values.get(setting.key);
    // An empty environment variable counts as unset: container env files often carry KEY= lines.
    const envValue = options.env[setting.env];
    const env = envValue === undefined || envValue.trim() === '' ? undefined : envValue;
    const defaults = CONFIG_DEFAULTS as Partial<Record<SettingKey, unknown>>;
    if (flag !== undefined) raw.set(setting.key, { value: flag, source: 'flag' });
    else if (env !== undefined) raw.set(setting.key, { value: env, source: 'env' });
    else if (fromFile[setting.key] !== undefined) raw.set(setting.key, { value: fromFile[setting.key], source: 'file' });
    else if (defaults[setting.key] !== undefined) raw.set(setting.key, { value: defaults[setting.key], source: 'default' });
  }
  // What the profile supplies is reported as such; an invalid profile name is reported by the schema.
  const profileName = normalizeFlushProfile(raw.get('flushProfile')?.value);
  if (isFlushProfileName(profileName)) {
    for (const key of PROFILED_SETTINGS) {
      if (!raw.has(key)) raw.set(key, { value: FLUSH_PROFILES[profileName][key], source: 'profile' });
    }
  }
  for (const name of Object.keys(options.env)) {
    if (name.startsWith('KAFSCALE_') && name !== CONFIG_FILE_ENV && !SETTINGS_BY_ENV.has(name)) {
      warnings.push(`environment variable ${name} is not a kafscale setting and is ignored (a typo?)`);
    }
  }

  const input: Record<string, unknown> = {};
  for (const [key, { value }] of raw) {
    const setting = SETTINGS_BY_KEY.get(key);
    input[key] = setting?.path === true && typeof value === 'string' && value.trim() !== '' ? resolve(options.cwd, value.trim()) : value;
  }

  const result = configSchema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(issueMessage(issue, raw, configFile));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);

  const config = deepFreeze(result.data) as KafscaleConfig;
  reports.set(
    config,
    deepFreeze({
      configFile,
      warnings,
      sources: CONFIG_SETTINGS.map((setting): SettingSource => {
        const given = raw.get(setting.key);
        const value = given === undefined ? null : setting.secret ? REDACTED : typeof given.value === 'string' ? given.value : display(given.value);
        return { key: setting.key, env: setting.env, flag: setting.flag, source: given?.source ?? 'unset', value };
      }),
    }),
  );
  return config;
}

/** Where each setting came from (flag, env, file, default), secrets redacted; for the start-up log. */
export function describeConfigSources(config: KafscaleConfig): ConfigReport {
  const report = reports.get(config);
  if (report === undefined) throw new TypeError('describeConfigSources() needs a config returned by loadConfig()');
  return report;
}

const SECRET_FIELDS: ReadonlySet<string> = new Set(['secretAccessKey', 'password']);

/** A copy of the config that is safe to log: secret values replaced. */
export function redactConfig(config: KafscaleConfig): unknown {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) out[key] = SECRET_FIELDS.has(key) && child !== null ? REDACTED : walk(child);
    return out;
  };
  return walk(config);
}
