/**
 * `kafscale users set|list|delete`: SCRAM users, written to the CONFIGURED METADATA STORE directly
 * (the broker's own KAFSCALE_DATA_DIR / KAFSCALE_ETCD_* settings), so the first admin user exists
 * before any broker accepts connections — Kafka's `kafka-storage format --add-scram`. Running brokers
 * see the change at once through their watch. Passwords are read from stdin or a file, never from
 * the command line (process listings show it), and never printed.
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { CliError, usageError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';

type Run = (action: (ctx: CommandContext, ...args: unknown[]) => Promise<void>) => (...args: unknown[]) => Promise<void>;

export const USER_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type UserMechanism = (typeof USER_MECHANISMS)[number];

/** The metadata store, seen as a user table; the app implements it (src/app/user-admin.ts). */
export interface UserAdmin {
  /** Where users are written, for messages ("embedded store /var/lib/kafscale/meta"). */
  readonly target: string;
  set(user: string, mechanism: UserMechanism, password: string, iterations: number): Promise<void>;
  list(): Promise<ReadonlyArray<{ user: string; mechanisms: ReadonlyArray<{ mechanism: string; iterations: number }> }>>;
  /** Deletes the user's credentials (of one mechanism, or all); returns how many were deleted. */
  delete(user: string, mechanism: UserMechanism | null): Promise<number>;
  close(): Promise<void>;
}

export type OpenUserAdmin = () => Promise<UserAdmin>;

const MIN_ITERATIONS = 4096;
const MAX_ITERATIONS = 16384;

export function registerUsersCommand(program: Command, run: Run, openUserAdmin: OpenUserAdmin | undefined): void {
  const users = program.command('users').description('SCRAM users in the metadata store (configured by KAFSCALE_DATA_DIR or KAFSCALE_ETCD_* as for the broker)');
  const withAdmin = async <T>(action: (admin: UserAdmin) => Promise<T>): Promise<T> => {
    if (openUserAdmin === undefined) throw new CliError('this build of the CLI cannot open the metadata store');
    let admin: UserAdmin;
    try {
      admin = await openUserAdmin();
    } catch (error) {
      throw new CliError(`cannot open the metadata store: ${(error as Error).message}`, {
        hint: 'the embedded store admits one process: stop the broker on this data directory first, or manage users through a running broker (AlterUserScramCredentials, e.g. kafka-configs --alter --entity-type users)',
        cause: error,
      });
    }
    try {
      return await action(admin);
    } finally {
      await admin.close();
    }
  };

  users.command('set <name>').description('create a user or change its password (read from stdin or a file, never from the command line)')
    .option('--mechanism <mechanism>', `SCRAM mechanism: ${USER_MECHANISMS.join(' or ')}`, 'SCRAM-SHA-512')
    .option('--password-stdin', 'read the password from stdin (first line)')
    .option('--password-file <file>', 'read the password from a file (first line)')
    .option('--iterations <n>', `PBKDF2 iterations (${MIN_ITERATIONS}–${MAX_ITERATIONS})`, '8192')
    .action(run(async (ctx, name, options) => {
      const opts = options as { mechanism: string; passwordStdin?: boolean; passwordFile?: string; iterations: string };
      const user = checkUserName(String(name));
      const mechanism = checkMechanism(opts.mechanism);
      const iterations = Number(opts.iterations);
      if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
        throw usageError(`--iterations must be an integer from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}, got '${opts.iterations}'`);
      }
      if ((opts.passwordStdin === true) === (opts.passwordFile !== undefined)) {
        throw usageError('give the password with exactly one of --password-stdin or --password-file', "e.g. printf '%s' \"$PASSWORD\" | kafscale users set alice --password-stdin");
      }
      const password = opts.passwordFile !== undefined ? await passwordFromFile(opts.passwordFile) : await passwordFromStream(ctx.stdin);
      const target = await withAdmin(async (admin) => {
        await admin.set(user, mechanism, password, iterations);
        return admin.target;
      });
      if (ctx.out.json) ctx.out.data({ user, mechanism, iterations, store: target });
      else ctx.out.line(`user ${user}: ${mechanism} credential set (${iterations} iterations) in ${target}`);
    }));

  users.command('list').description('users and their SCRAM mechanisms')
    .action(run(async (ctx) => {
      const list = await withAdmin((admin) => admin.list());
      if (ctx.out.json) return ctx.out.data(list);
      ctx.out.table([
        { header: 'USER', value: (u) => u.user },
        { header: 'MECHANISMS', value: (u) => u.mechanisms.map((m) => `${m.mechanism} (${m.iterations})`).join(', ') },
      ], list);
    }));

  users.command('delete <name>').description("delete a user's credentials (all mechanisms unless --mechanism); its new connections fail")
    .option('--mechanism <mechanism>', `only this mechanism: ${USER_MECHANISMS.join(' or ')}`)
    .action(run(async (ctx, name, options) => {
      const opts = options as { mechanism?: string };
      const user = checkUserName(String(name));
      const mechanism = opts.mechanism === undefined ? null : checkMechanism(opts.mechanism);
      const deleted = await withAdmin((admin) => admin.delete(user, mechanism));
      if (deleted === 0) throw new CliError(`user ${user} has no ${mechanism ?? 'SCRAM'} credential`, { hint: "see 'kafscale users list'" });
      if (ctx.out.json) ctx.out.data({ user, deleted });
      else ctx.out.line(`user ${user}: ${deleted} credential(s) deleted`);
    }));
}

function checkUserName(name: string): string {
  if (name === '' || name.length > 256 || /[\0\n\r]/.test(name)) throw usageError('the user name must be 1–256 characters without NUL or line breaks');
  return name;
}

function checkMechanism(mechanism: string): UserMechanism {
  const upper = mechanism.toUpperCase();
  if (!(USER_MECHANISMS as readonly string[]).includes(upper)) throw usageError(`--mechanism must be ${USER_MECHANISMS.join(' or ')}, got '${mechanism}'`);
  return upper as UserMechanism;
}

/** The first line, without its line break; an empty password is refused. */
function firstLine(text: string, origin: string): string {
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line === '') throw usageError(`the password from ${origin} is empty`);
  return line;
}

async function passwordFromFile(file: string): Promise<string> {
  try {
    return firstLine(await readFile(file, 'utf8'), file);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw usageError(`cannot read the password file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

async function passwordFromStream(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return firstLine(Buffer.concat(chunks).toString('utf8'), 'stdin');
}
