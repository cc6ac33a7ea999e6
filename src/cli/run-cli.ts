/**
 * The kafscale command line (everything but `kafscale broker`, which src/bin runs itself):
 * parses arguments with commander, runs one command, and turns every failure into one line plus a
 * hint on stderr and an exit code: 0 ok, 1 the operation failed, 2 usage error, 3 cannot connect.
 */
import type { Readable, Writable } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
import { CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, usageError } from './cli-error.ts';
import { loadCommandConfig } from './client-security.ts';
import { CommandContext, type GlobalOptions } from './command-context.ts';
import { registerClusterCommand } from './commands/cluster-command.ts';
import { registerConsumeCommand } from './commands/consume-command.ts';
import { registerAclsCommand } from './commands/acls-command.ts';
import { registerGroupsCommand } from './commands/groups-command.ts';
import { registerProduceCommand } from './commands/produce-command.ts';
import { registerTopicsCommand } from './commands/topics-command.ts';
import { registerUsersCommand, type OpenUserAdmin } from './commands/users-command.ts';
import { Output } from './output.ts';

export interface CliIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** The process environment, handed over by src/bin (only bin and config read process.env). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Opens the metadata store for `kafscale users` (src/app provides it; the CLI layer cannot). */
  readonly openUserAdmin?: OpenUserAdmin;
}

export const DEFAULT_BOOTSTRAP = 'localhost:9092';
const DEFAULT_TIMEOUT_MS = 30_000;

export type CommandRunner = (action: (ctx: CommandContext, ...args: unknown[]) => Promise<void>) => (...args: unknown[]) => Promise<void>;

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = new Command('kafscale');
  let json = argv.includes('--json');
  program
    .description('kafscale: a Kafka-compatible broker on object storage, and its command line')
    .usage('<command> [options]')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => {
        const path = commandPath(program, argv);
        const hint = `run 'kafscale ${path === '' ? '' : path + ' '}--help'`;
        write(formatError(text.replace(/^error: /, '').trim(), hint, EXIT_USAGE, null, json));
      },
    })
    .showSuggestionAfterError(true)
    .addOption(new Option('-b, --bootstrap <host:port,...>', 'brokers to start from (env KAFSCALE_BOOTSTRAP)')
      .default(io.env['KAFSCALE_BOOTSTRAP'] ?? DEFAULT_BOOTSTRAP))
    .option('--json', 'machine-readable JSON output')
    .option('--timeout <ms>', 'per-request timeout in milliseconds', String(DEFAULT_TIMEOUT_MS))
    .option('--client-id <id>', 'Kafka client id the broker logs', 'kafscale-cli')
    .addOption(new Option('--command-config <file>', 'properties for a secured listener: security.protocol, sasl.*, ssl.* (env KAFSCALE_COMMAND_CONFIG)')
      .default(io.env['KAFSCALE_COMMAND_CONFIG']));

  const contexts: CommandContext[] = [];
  const run: CommandRunner = (action) => async (...args) => {
    const ctx = new CommandContext(new Output(io.stdout, io.stderr, json), globalOptions(program), io.stdin);
    contexts.push(ctx);
    await action(ctx, ...args);
  };

  program.command('broker').description("run a broker (run 'kafscale broker --help' for its settings)")
    .allowUnknownOption().allowExcessArguments().helpOption(false)
    .action(() => {
      throw usageError("'broker' must be the first word", 'run: kafscale broker [settings]');
    });
  program.command('bench').description("measure a broker: produce/consume throughput, latency, PUTs per GB (run 'kafscale bench --help')")
    .allowUnknownOption().allowExcessArguments().helpOption(false)
    .action(() => {
      throw usageError("'bench' must be the first word", 'run: kafscale bench [options]');
    });
  program.command('compile-cache').description("fill Node's compile cache with the broker's modules, so brokers start without stripping types (the image build runs it)")
    .allowUnknownOption().allowExcessArguments().helpOption(false)
    .action(() => {
      throw usageError("'compile-cache' must be the first word", 'run: kafscale compile-cache');
    });
  registerTopicsCommand(program, run);
  registerClusterCommand(program, run);
  registerProduceCommand(program, run);
  registerConsumeCommand(program, run);
  registerGroupsCommand(program, run);
  registerAclsCommand(program, run);
  registerUsersCommand(program, run, io.openUserAdmin);

  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return EXIT_USAGE;
    }
    json = argv.includes('--json');
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
      // commander already printed the problem through outputError (or printed help for a missing subcommand).
      return EXIT_USAGE;
    }
    if (error instanceof CliError) {
      io.stderr.write(formatError(error.message, error.hint, error.exitCode, error.kafkaError, json));
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(formatError(`internal error: ${message}`, 'this is a bug in the kafscale CLI; please report it with the command you ran', EXIT_FAILED, null, json));
    if (io.env['KAFSCALE_DEBUG'] !== undefined && error instanceof Error) io.stderr.write(`${error.stack ?? ''}\n`);
    return EXIT_FAILED;
  } finally {
    await Promise.allSettled(contexts.map((ctx) => ctx.close()));
  }
}

function globalOptions(program: Command): GlobalOptions {
  const opts = program.opts<{ bootstrap: string; json?: boolean; timeout: string; clientId: string; commandConfig?: string }>();
  const timeoutMs = Number(opts.timeout);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw usageError(`--timeout must be a positive number of milliseconds, got '${opts.timeout}'`);
  const bootstrap = opts.bootstrap.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (bootstrap.length === 0) throw usageError('--bootstrap is empty', 'use --bootstrap host:port');
  const security = opts.commandConfig === undefined || opts.commandConfig === '' ? {} : { security: loadCommandConfig(opts.commandConfig) };
  return { bootstrap, json: opts.json === true, timeoutMs, clientId: opts.clientId, ...security };
}

function formatError(message: string, hint: string | null, exitCode: number, kafkaError: string | null, json: boolean): string {
  if (json) return JSON.stringify({ error: message, hint, kafkaError, exitCode }) + '\n';
  return `kafscale: ${message}\n${hint === null ? '' : `hint: ${hint}\n`}`;
}

/** The subcommand path named in argv ('topics create'), for "run ... --help" hints. */
function commandPath(program: Command, argv: readonly string[]): string {
  const names: string[] = [];
  let current = program;
  for (const arg of argv) {
    if (arg.startsWith('-')) continue;
    const sub = current.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    // Before the first command, a bare word is a global option's value (--bootstrap host:port).
    if (sub === undefined) {
      if (names.length === 0) continue;
      break;
    }
    names.push(sub.name());
    current = sub;
  }
  return names.join(' ');
}
