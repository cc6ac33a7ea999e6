/**
 * The broker's TLS material (PEM certificate chain, private key, optional CA bundle for client
 * certificates), read from files and re-read when they change, so rotated certificates (cert-manager,
 * a renewed Let's Encrypt chain) are served without a restart. Listeners subscribe and call
 * `setSecureContext` with the new options; connections already open keep their session.
 *
 * Changes are noticed by stat polling (`fs.watchFile`): it survives the atomic rename-and-symlink swaps
 * Kubernetes does for mounted secrets, which inotify watches on the old inode miss. A change that does
 * not load (half-written file, key not matching the certificate) is logged and the previous material
 * stays in use.
 */
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { KafscaleError } from '../telemetry/kafscale-error.ts';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA bundle that client certificates must chain to; null: no client certificates are verified. */
  readonly caFile: string | null;
}

export class TlsCertificates {
  readonly files: TlsFiles;
  readonly #log: Logger;
  readonly #pollIntervalMs: number;
  readonly #listeners = new Set<(options: SecureContextOptions) => void>();
  #options: SecureContextOptions;
  #watching = false;
  #reloads = 0;

  /** Loads the files now; throws KSC_CONFIG_INVALID naming the setting when they cannot be used. */
  constructor(files: TlsFiles, log: Logger, pollIntervalMs: number) {
    this.files = files;
    this.#log = log;
    this.#pollIntervalMs = pollIntervalMs;
    try {
      this.#options = load(files);
    } catch (error) {
      throw new KafscaleError('KSC_CONFIG_INVALID', `Cannot use the TLS files (KAFSCALE_TLS_CERT_FILE, KAFSCALE_TLS_KEY_FILE, KAFSCALE_TLS_CA_FILE): ${(error as Error).message}`, { cause: error });
    }
  }

  /** Options for tls.createServer / setSecureContext (TLS 1.2 minimum). */
  get options(): SecureContextOptions {
    return this.#options;
  }

  /** Successful reloads since start. */
  get reloads(): number {
    return this.#reloads;
  }

  /** Calls `listener` with the new options after every successful reload. */
  onReload(listener: (options: SecureContextOptions) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    if (this.#watching) return;
    this.#watching = true;
    for (const file of this.#watchedFiles()) watchFile(file, { interval: this.#pollIntervalMs, persistent: false }, this.#onFileChange);
  }

  async close(): Promise<void> {
    if (!this.#watching) return;
    this.#watching = false;
    for (const file of this.#watchedFiles()) unwatchFile(file, this.#onFileChange);
  }

  #watchedFiles(): string[] {
    return [this.files.certFile, this.files.keyFile, ...(this.files.caFile === null ? [] : [this.files.caFile])];
  }

  readonly #onFileChange = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.size === previous.size && current.ino === previous.ino) return;
    let options: SecureContextOptions;
    try {
      options = load(this.files);
    } catch (error) {
      // Often the first of two file writes (certificate before key): the next change completes it.
      this.#log.warn({ err: error, files: this.files }, 'TLS files changed but do not load; keeping the previous certificate');
      return;
    }
    this.#options = options;
    this.#reloads++;
    this.#log.info({ files: this.files, reloads: this.#reloads }, 'TLS certificate reloaded');
    for (const listener of this.#listeners) listener(options);
  };
}

function load(files: TlsFiles): SecureContextOptions {
  const options: SecureContextOptions = {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    minVersion: 'TLSv1.2',
    ...(files.caFile === null ? {} : { ca: readFileSync(files.caFile) }),
  };
  // Fails on a key that does not match the certificate, or unparsable PEM.
  createSecureContext(options);
  return options;
}
