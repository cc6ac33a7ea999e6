/**
 * The kafscale command, loaded by the entrypoint (kafscale.ts) once the runtime is settled.
 * `kafscale broker [flags]` runs a broker; every other subcommand is the CLI (src/cli). src/bin is the only
 * place besides src/config that touches process.env (it hands it over).
 */
import { spawn } from 'node:child_process';
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { BrokerApp } from '../app/broker-app.ts';
import { userAdminOpener } from '../app/user-admin.ts';
import { ProxyApp } from '../app/proxy-app.ts';
import { runCli } from '../cli/index.ts';
import { formatConfigHelp, isConfigError, loadConfig } from '../config/index.ts';
import { createLogger } from '../telemetry/logger.ts';

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'broker') return runBroker(rest);
  if (command === 'proxy') return runProxy(rest);
  if (command === 'bench') return runBench(rest);
  if (command === 'compile-cache') return fillCompileCache();
  return runCli(argv, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, openUserAdmin: userAdminOpener(process.env, process.cwd()) });
}

/**
 * `kafscale bench`: the benchmark lives beside the sources (bench/, it starts brokers and native clients
 * of its own), so it runs as its own process with the same Node.
 */
function runBench(args: readonly string[]): Promise<number> {
  const script = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
    child.on('error', (error) => {
      process.stderr.write(`kafscale bench: cannot start ${script}: ${error.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

/**
 * `kafscale compile-cache`: loads every module a broker may load — those of cluster mode too, which it
 * imports only when configured — so that Node's compile cache (broker-relaunch.ts) holds them all, and
 * writes the cache. The image build runs it as the image's user; a broker started from the image then
 * never strips types itself.
 */
async function fillCompileCache(): Promise<number> {
  await import('../app/etcd-store-factory.ts');
  await import('../app/s3-store-factory.ts');
  const directory = module.getCompileCacheDir();
  if (directory === undefined) {
    process.stderr.write('kafscale compile-cache: the compile cache is not enabled (NODE_DISABLE_COMPILE_CACHE, or it cannot be created)\n');
    return 1;
  }
  module.flushCompileCache();
  process.stdout.write(`compile cache written to ${directory}\n`);
  return 0;
}

async function runBroker(args: readonly string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`usage: kafscale broker [settings]\n\n${formatConfigHelp()}\n`);
    return 0;
  }
  const config = configOrNull(args, 'kafscale');
  if (config === null) return 2;
  const log = createLogger({ level: config.logLevel });
  const app = new BrokerApp(config, log);
  const signals = closeOnSignals(app, log, 'shutting down');
  try {
    await app.start();
  } catch (error) {
    log.fatal({ err: error }, `broker failed to start: ${error instanceof Error ? error.message : String(error)}`);
    log.flush?.();
    return 1;
  }
  // Every module is loaded by now: keep what was compiled for the next start (Node would write it only
  // at a clean exit).
  module.flushCompileCache();
  // Keep running until a signal closes the app, or the app cannot go on (it says why; a restart fixes it).
  await app.fatal;
  if (signals.claim()) await app.close();
  log.flush?.();
  // As after a signal: exit now, whatever handles a failed part may have left open.
  process.exit(1);
}

/** The validated config, or null after printing every problem (the caller exits 2). */
function configOrNull(args: readonly string[], command: string): ReturnType<typeof loadConfig> | null {
  try {
    return loadConfig({ argv: args, env: process.env, cwd: process.cwd() });
  } catch (error) {
    if (!isConfigError(error)) throw error;
    process.stderr.write(`${command}: invalid configuration\n${error.message}\n`);
    return null;
  }
}

/**
 * SIGTERM / SIGINT close the app (drain) and exit; a second signal exits at once. `claim()` is true for
 * the one caller that gets to close the app when no signal did.
 */
function closeOnSignals(app: { close(): Promise<void> }, log: ReturnType<typeof createLogger>, message: string): { claim(): boolean } {
  let stopping = false;
  const claim = (): boolean => {
    if (stopping) return false;
    stopping = true;
    return true;
  };
  const stop = (signal: string): void => {
    if (!claim()) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, message);
    void app.close().then(() => {
      log.flush?.();
      process.exit(process.exitCode ?? 0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return { claim };
}

/** `kafscale proxy`: the Kafka-aware proxy in front of the brokers (docs/design/proxy.md). */
async function runProxy(args: readonly string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`usage: kafscale proxy [settings]\n\nThe proxy reads KAFSCALE_PROXY_* (listen, advertised host/port, bootstrap), KAFSCALE_METRICS_ADDR and KAFSCALE_LOG_LEVEL.\n\n${formatConfigHelp()}\n`);
    return 0;
  }
  const config = configOrNull(args, 'kafscale proxy');
  if (config === null) return 2;
  const log = createLogger({ level: config.logLevel });
  let app: ProxyApp;
  try {
    app = new ProxyApp(config, log);
  } catch (error) {
    process.stderr.write(`kafscale proxy: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  closeOnSignals(app, log, 'proxy draining');
  try {
    await app.start();
  } catch (error) {
    log.fatal({ err: error }, `proxy failed to start: ${error instanceof Error ? error.message : String(error)}`);
    log.flush?.();
    await app.close();
    return 1;
  }
  return new Promise<number>(() => {});
}
