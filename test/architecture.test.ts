/**
 * The layering of src/ (DESIGN.md §3), checked by scanning every import of every non-test file:
 *
 *   errors, timing                the foundation every layer may import: the error catalogue, and
 *                                 cancellable waits and backoff (timing may use errors; errors nothing)
 *   protocol, telemetry, config   import nothing from other src/ folders but errors and timing
 *   storage                       telemetry only
 *   services                      storage ports (metadata-store.ts, object-store.ts — never an adapter),
 *                                 storage/meta/txn-packer.ts (packs writes under the store's limits),
 *                                 protocol/records, protocol/error-codes, protocol/acl-codes, telemetry
 *   broker                        protocol, services (each folder's index.ts only), telemetry
 *   server                        protocol/frame, broker/dispatch (`import type` only), telemetry
 *   ops                           services (each folder's index.ts only), telemetry
 *   console                       protocol, services (each folder's index.ts only), telemetry, and the
 *                                 BrokerServices type (the web console's API reads and acts through the
 *                                 handlers' services; never storage adapters, server, app)
 *   cli                           protocol, config, telemetry (it talks Kafka protocol and ops HTTP)
 *   proxy                         protocol, telemetry (its broker connections live in proxy/ itself;
 *                                 never services, storage, broker, server or config — app/ wires it)
 *   app, bin                      anything (app is the composition root; bin hands process.env to config)
 *
 * "index.ts only": a services folder's index.ts is its public face (STYLE.md); the layers above reach a
 * service through it, never into its internals — type-only imports included, so that moving a type
 * inside a service never breaks a handler.
 *
 * Telemetry is allowed in every layer above the leaves because KafscaleError and the logger live there
 * (dispatch.ts turns KafscaleErrors into error codes). Tests (`*.test.ts`) may import anything.
 *
 * Also: only src/config and src/bin read process.env (config is validated once, then frozen), and no
 * file uses syntax that Node's type stripping cannot erase (enum, namespace, parameter properties).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcRoot = join(repoRoot, 'src');

interface Allowed {
  /** A folder prefix ending in '/' or an exact file path, relative to src/. */
  readonly path: string;
  readonly typeOnly?: boolean;
  /** With a folder `path`: only the index.ts of each folder directly under it (a service's public face). */
  readonly indexOnly?: boolean;
}

/** Every services/<folder>/index.ts, never a service's internals. */
const SERVICE_FACES: Allowed = { path: 'services/', indexOnly: true };

const ANYTHING = 'anything';

/** The bottom layers: every layer may import them, and they import nothing from src/. */
const FOUNDATION = new Set(['errors', 'timing']);

const LAYER_RULES: Readonly<Record<string, readonly Allowed[] | typeof ANYTHING>> = {
  errors: [],
  timing: [{ path: 'errors/' }],
  protocol: [],
  telemetry: [],
  config: [],
  storage: [{ path: 'telemetry/' }],
  services: [
    { path: 'storage/meta/metadata-store.ts' },
    { path: 'storage/meta/txn-packer.ts' },
    { path: 'storage/object/object-store.ts' },
    { path: 'protocol/records/' },
    { path: 'protocol/error-codes.ts' },
    { path: 'protocol/acl-codes.ts' },
    { path: 'telemetry/' },
  ],
  broker: [{ path: 'protocol/' }, SERVICE_FACES, { path: 'telemetry/' }],
  server: [{ path: 'protocol/frame.ts' }, { path: 'broker/dispatch.ts', typeOnly: true }, { path: 'telemetry/' }],
  ops: [SERVICE_FACES, { path: 'telemetry/' }],
  console: [{ path: 'protocol/' }, SERVICE_FACES, { path: 'telemetry/' }, { path: 'broker/broker-services.ts', typeOnly: true }],
  cli: [{ path: 'protocol/' }, { path: 'config/' }, { path: 'telemetry/' }],
  proxy: [{ path: 'protocol/' }, { path: 'telemetry/' }],
  app: ANYTHING,
  bin: ANYTHING,
};

const ENV_READERS = new Set(['config', 'bin']);

interface ImportSite {
  readonly specifier: string;
  readonly typeOnly: boolean;
}

/**
 * Blanks out comments (and, when asked, string contents) so that the regexes below see code only.
 * Offsets are kept: every removed character becomes a space, so nothing shifts.
 */
function blankComments(source: string, blankStrings: boolean): string {
  const out = source.split('');
  let i = 0;
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to && k < out.length; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end === -1 ? source.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? source.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let k = i + 1;
      while (k < source.length && source[k] !== c) k += source[k] === '\\' ? 2 : 1;
      if (blankStrings) blank(i + 1, k);
      i = k + 1;
    } else {
      i++;
    }
  }
  return out.join('');
}

const STATIC_IMPORT = /(?:^|[\s;{}])(import|export)\s+(type\s+)?(?:[\w$*{}\s,]*?\s+from\s+)?['"]([^'"\n]+)['"]/g;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g;

function importsOf(source: string): ImportSite[] {
  const code = blankComments(source, false);
  const sites: ImportSite[] = [];
  for (const match of code.matchAll(STATIC_IMPORT)) {
    const specifier = match[3];
    // `export type X = …` has no `from`; the regex needs a quoted module after it, so it never matches.
    if (specifier !== undefined) sites.push({ specifier, typeOnly: match[2] !== undefined });
  }
  for (const match of code.matchAll(DYNAMIC_IMPORT)) {
    if (match[1] !== undefined) sites.push({ specifier: match[1], typeOnly: false });
  }
  return sites;
}

/** `src/` relative path of a relative import's target, or null for packages and node: builtins. */
function targetInSrc(fileInSrc: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  return posix.normalize(posix.join(posix.dirname(fileInSrc), specifier));
}

function layerOf(pathInSrc: string): string {
  const slash = pathInSrc.indexOf('/');
  return slash === -1 ? '' : pathInSrc.slice(0, slash);
}

/** One message per violation, naming the file and the import; empty when the import is allowed. */
function checkImport(fileInSrc: string, site: ImportSite): string | null {
  const target = targetInSrc(fileInSrc, site.specifier);
  if (target === null) return null;
  const where = `src/${fileInSrc}: import '${site.specifier}'`;
  if (target.startsWith('../')) return `${where} reaches outside src/`;
  const layer = layerOf(fileInSrc);
  const targetLayer = layerOf(target);
  if (targetLayer === layer) return null;
  const rules = LAYER_RULES[layer];
  if (rules === undefined) return `${where}: src/${layer || fileInSrc} is not a known layer (see DESIGN.md §3)`;
  if (FOUNDATION.has(targetLayer) && !FOUNDATION.has(layer)) return null;
  if (rules === ANYTHING) return null;
  const rule = rules.find((allowed) =>
    allowed.path.endsWith('/') ? target.startsWith(allowed.path) : target === allowed.path,
  );
  const allowedList = rules.length === 0 ? 'nothing outside itself' : rules.map((r) => r.path).join(', ');
  if (rule === undefined) return `${where}: ${layer} may import only ${allowedList} (DESIGN.md §3)`;
  if (rule.indexOnly === true && !/^[^/]+\/index\.ts$/.test(target.slice(rule.path.length))) {
    return `${where}: ${layer} may import a services folder only through its index.ts (src/${rule.path}<folder>/index.ts); export what it needs there`;
  }
  if (rule.typeOnly === true && !site.typeOnly) {
    return `${where}: ${layer} may import src/${rule.path} for types only; write \`import type\``;
  }
  return null;
}

/** Patterns over code with strings blanked (so a message mentioning process.env is no read)… */
const ENV_READ_IN_CODE = [/\bprocess\s*\.\s*env\b/, /\{[^}]*\benv\b[^}]*\}\s*=\s*process\b/];
/** …and the ones that need a string literal to tell. */
const ENV_READ_WITH_STRINGS = [
  /\bprocess\s*\[\s*['"`]env['"`]\s*\]/,
  /import\s*\{[^}]*\benv\b[^}]*\}\s*from\s*['"](?:node:)?process['"]/,
];

function readsEnv(source: string): boolean {
  const code = blankComments(source, true);
  const codeWithStrings = blankComments(source, false);
  return (
    ENV_READ_IN_CODE.some((pattern) => pattern.test(code)) ||
    ENV_READ_WITH_STRINGS.some((pattern) => pattern.test(codeWithStrings))
  );
}

const NON_ERASABLE = /\b(?:enum|namespace|module)\s+[A-Za-z_$][\w$.]*\s*\{/;

/** Why the file cannot run under type stripping, or null. */
function nonErasableSyntax(source: string): string | null {
  const code = blankComments(source, true);
  const match = NON_ERASABLE.exec(code);
  if (match !== null) return `uses \`${match[0].replace(/\s+/g, ' ').trim()}\``;
  try {
    stripTypeScriptTypes(source, { mode: 'strip' });
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0] ?? 'cannot be type-stripped';
  }
}

function tsFilesUnder(dir: string): string[] {
  const files: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  for (const entry of entries) {
    if (entry.isFile() && entry.name.endsWith('.ts')) files.push(join(entry.parentPath, entry.name));
  }
  return files.sort();
}

interface SourceFile {
  readonly pathInSrc: string;
  readonly source: string;
  readonly isTest: boolean;
}

function sourceFiles(): SourceFile[] {
  return tsFilesUnder(srcRoot).map((file) => {
    const pathInSrc = relative(srcRoot, file).split('\\').join('/');
    return { pathInSrc, source: readFileSync(file, 'utf8'), isTest: pathInSrc.endsWith('.test.ts') };
  });
}

test('the scanner finds every kind of import and tells type-only ones apart', () => {
  const source = [
    "import type { A } from '../storage/meta/metadata-store.ts';",
    "import { b,",
    "  c } from '../protocol/frame.ts'; import '../telemetry/side-effect.ts';",
    "export { d } from './d.ts';",
    "export * from \"../config/index.ts\";",
    "// import { e } from '../app/commented-out.ts';",
    "const url = 'http://not-a-comment'; const m = await import('../broker/lazy.ts');",
    "import pino from 'pino';",
  ].join('\n');
  assert.deepEqual(importsOf(source), [
    { specifier: '../storage/meta/metadata-store.ts', typeOnly: true },
    { specifier: '../protocol/frame.ts', typeOnly: false },
    { specifier: '../telemetry/side-effect.ts', typeOnly: false },
    { specifier: './d.ts', typeOnly: false },
    { specifier: '../config/index.ts', typeOnly: false },
    { specifier: 'pino', typeOnly: false },
    { specifier: '../broker/lazy.ts', typeOnly: false },
  ]);
});

test('the rule checker flags forbidden imports and allows the permitted ones', () => {
  const ok = (file: string, specifier: string, typeOnly = false): void =>
    assert.equal(checkImport(file, { specifier, typeOnly }), null, `${file} → ${specifier}`);
  const bad = (file: string, specifier: string, typeOnly = false): void =>
    assert.match(checkImport(file, { specifier, typeOnly }) ?? '', /may import|not a known layer|outside src/);
  ok('protocol/codec/index.ts', '../messages/metadata.ts');
  bad('protocol/codec/index.ts', '../../telemetry/kafscale-error.ts');
  bad('config/config.ts', '../telemetry/logger.ts');
  ok('storage/meta/etcd-store.ts', '../../telemetry/kafscale-error.ts');
  bad('storage/meta/etcd-store.ts', '../../protocol/frame.ts');
  ok('services/log/partition-log.ts', '../../storage/object/object-store.ts', true);
  bad('services/log/partition-log.ts', '../../storage/object/fs-object-store.ts', true);
  ok('services/log/partition-log.ts', '../../protocol/records/record-batch.ts');
  ok('services/cluster/topics.ts', '../../protocol/error-codes.ts');
  bad('services/cluster/topics.ts', '../../protocol/codec/index.ts');
  bad('services/cluster/topics.ts', '../../broker/dispatch.ts');
  ok('broker/handlers/metadata.ts', '../../services/cluster/index.ts');
  ok('broker/broker-services.ts', '../services/groups/index.ts', true);
  bad('broker/handlers/metadata.ts', '../../services/cluster/topics.ts');
  bad('broker/broker-services.ts', '../services/groups/group-coordinator.ts', true);
  bad('broker/handlers/groups/join-group.ts', '../../../services/groups/sub/index.ts');
  ok('ops/ops-server.ts', '../services/log/index.ts');
  bad('ops/ops-server.ts', '../services/log/log-service.ts', true);
  bad('console/console-routes.ts', '../services/groups/group-store.ts');
  bad('broker/handlers/metadata.ts', '../../storage/meta/embedded-store.ts');
  ok('server/kafka-server.ts', '../broker/dispatch.ts', true);
  bad('server/kafka-server.ts', '../broker/dispatch.ts', false);
  bad('server/kafka-server.ts', '../protocol/codec/index.ts');
  ok('app/broker-app.ts', '../storage/meta/embedded-store.ts');
  ok('proxy/proxy-router.ts', '../protocol/codec/index.ts');
  ok('proxy/proxy-router.ts', '../telemetry/kafscale-error.ts');
  bad('proxy/proxy-router.ts', '../services/cluster/topics.ts');
  bad('proxy/upstream-pool.ts', '../storage/meta/etcd-store.ts');
  bad('proxy/proxy-server.ts', '../server/kafka-server.ts');
  bad('proxy/proxy-router.ts', '../config/index.ts');
  bad('unknown/thing.ts', '../protocol/frame.ts');
  bad('protocol/frame.ts', '../../test/helpers/x.ts');
  ok('protocol/frame.ts', '../errors/kafscale-error.ts');
  ok('storage/meta/etcd-store.ts', '../../timing/backoff.ts');
  bad('errors/kafscale-error.ts', '../telemetry/logger.ts');
  ok('timing/backoff.ts', '../errors/kafscale-error.ts');
  bad('errors/kafscale-error.ts', '../timing/backoff.ts');
});

test('the env and syntax checks catch what they are meant to', () => {
  assert.equal(readsEnv('const level = process.env.LEVEL;'), true);
  assert.equal(readsEnv("const level = process['env']['LEVEL'];"), true);
  assert.equal(readsEnv('const { env } = process;'), true);
  assert.equal(readsEnv("import { env } from 'node:process';"), true);
  assert.equal(readsEnv("// process.env is read in config only\nconst s = 'process.env';"), false);
  assert.match(nonErasableSyntax('export enum Color { Red }') ?? '', /enum Color/);
  assert.match(nonErasableSyntax('namespace Util { export const x = 1; }') ?? '', /namespace Util/);
  assert.notEqual(nonErasableSyntax('class C { constructor(private readonly a: number) {} }'), null);
  assert.equal(nonErasableSyntax("const enumName = 'x'; type T = { namespace: string };"), null);
});

test('src/ follows the dependency rule (DESIGN.md §3)', () => {
  const violations: string[] = [];
  for (const file of sourceFiles()) {
    if (file.isTest) continue;
    for (const site of importsOf(file.source)) {
      const violation = checkImport(file.pathInSrc, site);
      if (violation !== null) violations.push(violation);
    }
  }
  assert.deepEqual(violations, []);
});

test('only src/config and src/bin read process.env', () => {
  const readers = sourceFiles()
    .filter((file) => !file.isTest && !ENV_READERS.has(layerOf(file.pathInSrc)) && readsEnv(file.source))
    .map((file) => `src/${file.pathInSrc} reads process.env; take the value from the validated config instead`);
  assert.deepEqual(readers, []);
});

test('no enum, namespace or other syntax that type stripping cannot erase', () => {
  const offenders: string[] = [];
  for (const file of sourceFiles()) {
    const problem = nonErasableSyntax(file.source);
    if (problem !== null) offenders.push(`src/${file.pathInSrc}: ${problem}`);
  }
  assert.deepEqual(offenders, []);
});
