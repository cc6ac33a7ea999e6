/**
 * A configuration the broker cannot run with: a KafscaleError with code KSC_CONFIG_INVALID.
 * `problems` lists every problem found (validation reports all of them at once); each names the
 * environment variable, flag or file key the user has to fix.
 */
import { KafscaleError } from '../errors/kafscale-error.ts';

export class ConfigError extends KafscaleError {
  declare readonly code: 'KSC_CONFIG_INVALID';
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    const summary =
      problems.length === 1
        ? `Invalid configuration: ${problems[0]}`
        : `Invalid configuration (${problems.length} problems):\n${problems.map((p) => `  - ${p}`).join('\n')}`;
    super('KSC_CONFIG_INVALID', summary, options);
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof ConfigError;
}
