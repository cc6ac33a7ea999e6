/**
 * The committed console bundle (src/console/static) is exactly what scripts/build-console.ts makes
 * from ui/, it stays within the JS budget of issue 14 (150 KB gzipped), and it loads nothing from
 * elsewhere (no CDN: an operator's broker may have no internet); and ui/ type-checks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { buildConsole, BUNDLE_FILES, STATIC_DIR } from '../../scripts/build-console.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const JS_BUDGET_GZIP_BYTES = 150 * 1024;
const outDir = mkdtempSync(join(tmpdir(), 'kafscale-console-build-'));
after(() => rmSync(outDir, { recursive: true, force: true }));

test('rebuilding ui/ yields the committed bundle byte for byte', async () => {
  await buildConsole(outDir);
  assert.deepEqual(readdirSync(outDir).sort(), [...BUNDLE_FILES].sort(), 'the build makes exactly the bundle files');
  assert.deepEqual(readdirSync(STATIC_DIR).sort(), [...BUNDLE_FILES].sort(), 'src/console/static holds exactly the bundle files');
  for (const file of BUNDLE_FILES) {
    const committed = readFileSync(join(STATIC_DIR, file));
    const rebuilt = readFileSync(join(outDir, file));
    assert.ok(committed.equals(rebuilt), `src/console/static/${file} differs from what ui/ builds to: run \`node scripts/build-console.ts\` and commit the result`);
  }
});

test(`the console's JavaScript is at most ${JS_BUDGET_GZIP_BYTES / 1024} KB gzipped`, () => {
  const js = BUNDLE_FILES.filter((file) => file.endsWith('.js'));
  const gzipped = js.reduce((sum, file) => sum + gzipSync(readFileSync(join(STATIC_DIR, file)), { level: 9 }).length, 0);
  assert.ok(gzipped <= JS_BUDGET_GZIP_BYTES, `${gzipped} bytes gzipped > ${JS_BUDGET_GZIP_BYTES}`);
  assert.ok(gzipped > 10 * 1024, `${gzipped} bytes gzipped: too small to be the console (is the bundle empty?)`);
});

test('the page loads only its own files', () => {
  const html = readFileSync(join(STATIC_DIR, 'index.html'), 'utf8');
  const references = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((match) => match[1]);
  assert.deepEqual(references, ['data:,', '/ui/app.css', '/ui/app.js']);
  const css = readFileSync(join(STATIC_DIR, 'app.css'), 'utf8');
  assert.doesNotMatch(css, /@import|url\(\s*["']?(?:https?:)?\/\//, 'app.css fetches nothing from elsewhere');
  const js = readFileSync(join(STATIC_DIR, 'app.js'), 'utf8');
  assert.doesNotMatch(js, /\bimport\s*\(\s*["']https?:|from\s*["']https?:/, 'app.js imports nothing from elsewhere');
});

test('ui/ type-checks with the DOM library (its own tsconfig; `tsc -p .` covers the Node side only)', () => {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '--noEmit', '-p', join(repoRoot, 'ui')], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, `tsc -p ui failed:\n${result.stdout}${result.stderr}`);
});
