/**
 * `npm test`: make sure the system tools the tests drive are present, type-check, then run every
 * test file on the Node test runner.
 *
 *   npm test                      all of src/**\/*.test.ts and test/**\/*.test.ts
 *   npm test -- test/compat       only the files under a directory (or any file / glob given)
 *   npm test -- --test-name-pattern=restart   extra flags go to `node --test` unchanged
 *
 * The runner's summary (`ℹ tests N`, `ℹ pass N`, `ℹ fail N`, …) is printed last, after the spec
 * reporter's "failing tests" recap, so a CI log ends with the numbers. The exit code is the runner's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** npm runs scripts in the package root and keeps the caller's directory in INIT_CWD. */
const invocationDir = process.env['INIT_CWD'] ?? process.cwd();

/** Two cores: three files at once keeps both busy while brokers and clients start up. */
const TEST_CONCURRENCY = 3;
/** Per test; a broker start is bounded at 20 s, so a minute is generous and still fails a hang. */
const TEST_TIMEOUT_MS = 60_000;
const DEFAULT_PATTERNS = ['src/**/*.test.ts', 'test/**/*.test.ts'];
const LINT_PATTERNS = ['src/**/*.ts', 'test/**/*.ts', 'scripts/**/*.ts', 'bench/**/*.ts', 'ui/**/*.ts'];

interface SystemRequirement {
  readonly what: string;
  readonly debianPackage: string;
  readonly present: () => boolean;
}

function commandRuns(command: string, args: readonly string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 15_000 });
  return result.error === undefined && result.status === 0;
}

const SYSTEM_REQUIREMENTS: readonly SystemRequirement[] = [
  { what: 'etcd binary', debianPackage: 'etcd-server', present: () => commandRuns('etcd', ['--version']) },
  // kcat -V exits 0 and prints its version; it needs no broker.
  { what: 'kcat binary', debianPackage: 'kcat', present: () => commandRuns('kcat', ['-V']) },
  {
    what: '/usr/bin/python3 with `import kafka`',
    debianPackage: 'python3-kafka',
    present: () => commandRuns('/usr/bin/python3', ['-c', 'import kafka']),
  },
  {
    what: '/usr/bin/python3 with `import confluent_kafka`',
    debianPackage: 'python3-confluent-kafka',
    present: () => commandRuns('/usr/bin/python3', ['-c', 'import confluent_kafka']),
  },
  // test/compat/sarama builds a Go program offline in GOPATH mode against Debian's sarama (no module downloads).
  { what: 'go binary', debianPackage: 'golang-go', present: () => commandRuns('go', ['version']) },
  // sarama imports DataDog/zstd, a cgo package: the build needs a C compiler (golang-go only recommends it).
  { what: 'gcc binary', debianPackage: 'gcc', present: () => commandRuns('gcc', ['--version']) },
  {
    what: 'sarama Go sources under /usr/share/gocode',
    debianPackage: 'golang-github-shopify-sarama-dev',
    present: () => existsSync('/usr/share/gocode/src/github.com/Shopify/sarama/sarama.go'),
  },
  // `kubectl kustomize` renders deploy/kubernetes (test/deploy). Debian ships kubectl as kubernetes-client.
  { what: 'kubectl binary', debianPackage: 'kubernetes-client', present: () => commandRuns('kubectl', ['version', '--client']) },
  // scripts/build-image.sh (test/deploy/container-image.test.ts): a Debian root filesystem, the image, a stripped node.
  { what: 'buildah binary', debianPackage: 'buildah', present: () => commandRuns('buildah', ['--version']) },
  { what: 'mmdebstrap binary', debianPackage: 'mmdebstrap', present: () => commandRuns('mmdebstrap', ['--version']) },
  { what: 'strip binary', debianPackage: 'binutils', present: () => commandRuns('strip', ['--version']) },
  // The TLS tests (etcd, Kafka listeners) make a throwaway CA with openssl.
  { what: 'openssl binary', debianPackage: 'openssl', present: () => commandRuns('/usr/bin/openssl', ['version']) },
  // The console's browser tests (test/console/browser*) drive Debian's Chromium through puppeteer-core; no browser download.
  { what: '/usr/bin/chromium', debianPackage: 'chromium', present: () => commandRuns('/usr/bin/chromium', ['--version']) },
];

function missingRequirements(): SystemRequirement[] {
  return SYSTEM_REQUIREMENTS.filter((requirement) => !requirement.present());
}

function ensureSystemPackages(): void {
  let missing = missingRequirements();
  if (missing.length === 0) return;
  const packages = missing.map((requirement) => requirement.debianPackage);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && commandRuns('apt-get', ['--version'])) {
    console.log(`test: installing Debian packages the tests use: ${packages.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    if (update.status === 0) {
      spawnSync('apt-get', ['install', '-y', ...packages], { stdio: 'inherit', env });
    }
    missing = missingRequirements();
  }
  for (const requirement of missing) {
    // Not fatal: the tests that need the tool skip with this reason.
    console.log(
      `test: missing ${requirement.what} (Debian package ${requirement.debianPackage}); tests that need it will skip. ` +
        `Install it with: apt-get install ${requirement.debianPackage}`,
    );
  }
}

function typeCheck(): boolean {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  console.log('test: tsc --noEmit -p .');
  const result = spawnSync(process.execPath, [tsc, '--noEmit', '-p', '.'], { cwd: repoRoot, stdio: 'inherit' });
  if (result.error !== undefined) {
    console.error(`test: could not run tsc (${result.error.message}); run \`npm ci\` first`);
    return false;
  }
  return result.status === 0;
}

/** ESLint for what tsc does not check: floating and misused promises (eslint.config.js). */
function lint(): boolean {
  const eslint = join(repoRoot, 'node_modules', 'eslint', 'bin', 'eslint.js');
  console.log('test: eslint');
  const result = spawnSync(process.execPath, [eslint, ...LINT_PATTERNS], { cwd: repoRoot, stdio: 'inherit' });
  if (result.error !== undefined) {
    console.error(`test: could not run eslint (${result.error.message}); run \`npm ci\` first`);
    return false;
  }
  return result.status === 0;
}

/** A directory argument means "every test file below it"; files, globs and flags pass through. */
function testRunnerArguments(cliArgs: readonly string[]): string[] {
  const flags: string[] = [];
  const patterns: string[] = [];
  for (const arg of cliArgs) {
    if (arg.startsWith('-')) {
      flags.push(arg);
      continue;
    }
    const fromCaller = resolve(invocationDir, arg);
    const absolute = existsSync(fromCaller) ? fromCaller : resolve(repoRoot, arg);
    if (existsSync(absolute) && statSync(absolute).isDirectory()) {
      const below = relative(repoRoot, absolute) || '.';
      patterns.push(`${below.replaceAll('\\', '/')}/**/*.test.ts`);
    } else {
      patterns.push(existsSync(absolute) ? relative(repoRoot, absolute) : arg);
    }
  }
  return [
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${TEST_CONCURRENCY}`,
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    // Not --test-force-exit: it ended a file's process before all its results reached the runner (a run
    // reported 1,152 of 1,155 tests, all passing). A stuck cleanup is bounded in test/helpers/cluster.ts.
    ...flags,
    ...(patterns.length > 0 ? patterns : DEFAULT_PATTERNS),
  ];
}

const SUMMARY_LINE = /^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /;

/**
 * Runs `node --test`, passing its output through except the final summary block, which is held back
 * and printed after everything else (the spec reporter prints its failure recap after the summary).
 */
async function runTests(args: readonly string[]): Promise<number> {
  console.log(`test: node ${args.join(' ')}`);
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number>((resolveExit) => {
    child.on('close', (code, signal) => resolveExit(code ?? (signal === null ? 1 : 128)));
  });
  let summary: string[] = [];
  let held: string[] = [];
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  for await (const line of lines) {
    if (SUMMARY_LINE.test(line)) {
      held.push(line);
      continue;
    }
    if (held.length > 0) {
      // A complete block (it always ends with duration_ms) is the summary; anything else was a
      // diagnostic that only looked like one, so it is printed where it was.
      if (held.some((heldLine) => heldLine.startsWith('ℹ duration_ms '))) summary = held;
      else for (const heldLine of held) console.log(heldLine);
      held = [];
    }
    console.log(line);
  }
  if (held.length > 0) summary = held;
  const code = await exited;
  for (const line of summary) console.log(line);
  return code;
}

async function main(): Promise<number> {
  process.chdir(repoRoot);
  ensureSystemPackages();
  if (!typeCheck()) {
    console.error('test: type errors (see above); not running the tests');
    return 1;
  }
  if (!lint()) {
    console.error('test: lint errors (see above); not running the tests');
    return 1;
  }
  return runTests(testRunnerArguments(process.argv.slice(2)));
}

process.exitCode = await main();
