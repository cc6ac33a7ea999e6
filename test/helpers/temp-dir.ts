import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `tempDir()` makes a fresh directory under the OS temp dir, named `{prefix}…`; every directory it made
 * is removed when the test file ends (call at module level: it registers the `after` hook).
 */
export function tempDirs(prefix: string): () => string {
  const roots: string[] = [];
  after(() => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    roots.push(dir);
    return dir;
  };
}
