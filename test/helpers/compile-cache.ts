/** Node's module compile cache as the tests look at it (src/bin/broker-relaunch.ts). */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under a compile cache directory with its modification time (ms): what a run added or rewrote. */
export function cacheFiles(dir: string): Map<string, number> {
  const files = new Map<string, number>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(path, statSync(path).mtimeMs);
  }
  return files;
}
