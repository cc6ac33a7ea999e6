/**
 * Renders the kustomize overlays under deploy/kubernetes/overlays with `kubectl kustomize` and checks the
 * objects against the Kubernetes OpenAPI schemas as packaged by `kubernetes-models` (and
 * `@kubernetes-models/prometheus-operator` for the ServiceMonitor CRD):
 *
 * - `validateObject`: the package's compiled JSON-schema validators (types, required fields, enums,
 *   formats). They accept unknown fields, as the OpenAPI schemas do not forbid them;
 * - `unknownFields`: so a misspelt field (`replica:`, `readinesProbe:`) is caught too, every object is
 *   written as a TypeScript literal `satisfies` its model interface and type-checked: TypeScript's
 *   excess-property check names any field the schema does not have, at any depth.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const overlaysDir = join(repoRoot, 'deploy', 'kubernetes', 'overlays');

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

export function overlayNames(): string[] {
  return readdirSync(overlaysDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** The kubectl binary that renders kustomizations, or null with the reason it cannot. */
export function findKubectl(): { readonly path: string } | { readonly missing: string } {
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 15_000 });
  if (probe.error !== undefined || probe.status !== 0) {
    return { missing: 'kubectl is not installed (Debian package kubectl or kubernetes-client; `npm test` installs it when run as root)' };
  }
  return { path: 'kubectl' };
}

export function renderOverlay(kubectl: string, overlay: string): K8sObject[] {
  const result = spawnSync(kubectl, ['kustomize', join(overlaysDir, overlay)], { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${overlay} failed (${String(result.status)}): ${result.stderr}`);
  const objects: K8sObject[] = [];
  for (const document of parseAllDocuments(result.stdout)) {
    if (document.errors.length > 0) throw new Error(`${overlay}: rendered YAML does not parse: ${document.errors.map((e) => e.message).join('; ')}`);
    const value = document.toJS() as K8sObject | null;
    if (value !== null) objects.push(value);
  }
  return objects;
}

/** Module path of the model for an apiVersion (group/version, or core `v1`). */
function modelModule(apiVersion: string): string {
  if (apiVersion === 'monitoring.coreos.com/v1') return '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
  return `kubernetes-models/${apiVersion}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** Validates one object against its schema; resolves with the problems (empty when valid). */
export async function validateObject(object: K8sObject): Promise<string[]> {
  let models: Record<string, unknown>;
  try {
    models = (await import(modelModule(object.apiVersion))) as Record<string, unknown>;
  } catch {
    return [`no schema for apiVersion ${object.apiVersion}`];
  }
  const Model = models[object.kind] as ModelClass | undefined;
  if (Model === undefined) return [`no schema for ${object.apiVersion} ${object.kind}`];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

/**
 * Type-checks every object as a literal of its model interface and returns tsc's complaints (empty when
 * every field is known and typed right). One tsc run for all objects.
 */
export function unknownFields(objects: ReadonlyArray<{ readonly where: string; readonly object: K8sObject }>): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-k8s-types-'));
  try {
    const lines: string[] = [];
    objects.forEach(({ where, object }, i) => {
      lines.push(`import type { I${object.kind} as T${i} } from '${modelModule(object.apiVersion)}/${object.kind}';`);
      lines.push(`// ${where}`);
      lines.push(`export const o${i} = ${JSON.stringify(object, null, 1)} satisfies T${i};`);
    });
    writeFileSync(join(dir, 'objects.ts'), `${lines.join('\n')}\n`);
    const nodeModules = join(repoRoot, 'node_modules');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          types: [],
          paths: { '*': [`${nodeModules}/*`] },
        },
        files: ['objects.ts'],
      }),
    );
    const tsc = join(nodeModules, 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', timeout: 120_000 });
    if (result.status === 0) return [];
    const source = lines.join('\n').split('\n');
    // Point each complaint at the object it is about (the comment line above its literal).
    return result.stdout
      .split('\n')
      .filter((line) => line.includes('error TS'))
      .map((line) => {
        const at = /objects\.ts\((\d+),/.exec(line);
        let owner = '';
        if (at !== null) {
          for (let n = Number(at[1]) - 1; n >= 0; n--) {
            const text = source[n] ?? '';
            if (text.startsWith('// ')) {
              owner = text.slice(3);
              break;
            }
          }
        }
        return `${owner}: ${line.replace(/^.*error TS\d+: /, '')}`;
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
