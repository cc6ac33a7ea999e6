/** Public face of the CLI: `runCli(argv, io)` (src/bin hands over argv, stdio and the environment). */
export { runCli, DEFAULT_BOOTSTRAP } from './run-cli.ts';
export type { CliIo } from './run-cli.ts';
export { KafkaClient, KafkaConnection, parseHostPort } from './kafka-client.ts';
export { CliError, EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE } from './cli-error.ts';
