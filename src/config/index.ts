/** The public face of src/config. */
export { ConfigError, isConfigError } from './config-error.ts';
export {
  CONFIG_DEFAULTS,
  LOG_LEVELS,
  configSchema,
  parseHostPort,
  type EmbeddedMetadataStoreConfig,
  type EtcdMetadataStoreConfig,
  type FilesystemObjectStoreConfig,
  type HostPort,
  type KafscaleConfig,
  type LogLevel,
  type S3ObjectStoreConfig,
  type SettingKey,
} from './config-schema.ts';
export { CONFIG_FILE_ENV, CONFIG_FILE_FLAG, CONFIG_SETTINGS, envName, flagName, formatConfigHelp, type SettingInfo } from './config-settings.ts';
export {
  describeConfigSources,
  loadConfig,
  redactConfig,
  type ConfigReport,
  type ConfigSource,
  type LoadConfigOptions,
  type SettingSource,
} from './load-config.ts';
