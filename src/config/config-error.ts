/**
 * A configuration the broker cannot run with. src/config imports nothing from the rest of src/, so this
 * is not a telemetry KafscaleError, but it carries the same stable code ('KSC_CONFIG_INVALID').
 * `problems` lists every problem found (validation reports all of them at once); each names the
 * environment variable, flag or file key the user has to fix.
 */
export class ConfigError extends Error {
  readonly code = 'KSC_CONFIG_INVALID' as const;
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    const summary =
      problems.length === 1
        ? `Invalid configuration: ${problems[0]}`
        : `Invalid configuration (${problems.length} problems):\n${problems.map((p) => `  - ${p}`).join('\n')}`;
    super(summary, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof ConfigError;
}
