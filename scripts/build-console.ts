/**
 * Bundles the console's browser code (`ui/`) into the static files the ops listener serves under `/ui/`
 * (`src/console/static/`: index.html, app.js, app.css). The bundle is committed; test/console/bundle.test.ts
 * rebuilds it and fails when the committed files differ from what their sources produce.
 *
 *   node scripts/build-console.ts            write src/console/static/
 *   node scripts/build-console.ts OUT_DIR    write elsewhere (the drift test)
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const uiDir = join(repoRoot, 'ui');
export const STATIC_DIR = join(repoRoot, 'src', 'console', 'static');
/** Every file the bundle consists of; the ops server serves exactly these. */
export const BUNDLE_FILES = ['index.html', 'app.js', 'app.css'] as const;

export async function buildConsole(outDir: string = STATIC_DIR): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  await build({
    absWorkingDir: repoRoot,
    entryPoints: { app: join(uiDir, 'main.ts') },
    outdir: outDir,
    bundle: true,
    minify: true,
    format: 'esm',
    // Browsers an operator's laptop has had for two years or more; no polyfills.
    target: ['chrome111', 'firefox111', 'safari16.4'],
    legalComments: 'eof',
    charset: 'utf8',
    sourcemap: false,
    logLevel: 'warning',
  });
  copyFileSync(join(uiDir, 'index.html'), join(outDir, 'index.html'));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildConsole(process.argv[2] === undefined ? STATIC_DIR : resolve(process.argv[2]));
}
