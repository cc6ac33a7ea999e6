/**
 * The container image (issue 12): scripts/build-image.sh builds it with buildah from Debian packages and the
 * npm registry only; the test checks its configuration (non-root user, tini entrypoint, healthcheck, volume,
 * OCI labels), its size, that it carries no Debian nodejs, and starts the broker from the image's root
 * filesystem (`buildah mount` + `chroot` as the non-root user, the image's own entrypoint) until it answers
 * ApiVersions and /healthz, then stops it with SIGTERM through tini. Containers cannot be run on these
 * machines (the runtime cannot set rlimits), hence chroot. The Containerfile must describe the same image.
 *
 * The Debian part is cached between runs under the temp dir (KAFSCALE_IMAGE_CACHE), keyed by its inputs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheFiles } from '../helpers/compile-cache.ts';
import { freePort } from '../helpers/free-port.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { repoRoot } from './rendered-manifests.ts';

const IMAGE_UID = 10001;
const MAX_IMAGE_BYTES = 200 * 1000 * 1000;
/** Bounded well inside the suite's 15 minutes: a build measured 45–115 s here. */
const BUILD_TIMEOUT_MS = 480_000;
/** The host's chroot (the broker's environment is the image's, whose PATH does not lead to it). */
const CHROOT = existsSync('/usr/sbin/chroot') ? '/usr/sbin/chroot' : 'chroot';
const OCI_LABELS = ['title', 'description', 'version', 'revision', 'created', 'licenses'].map((l) => `org.opencontainers.image.${l}`);

interface DockerConfig {
  User: string;
  Entrypoint: string[];
  Cmd: string[];
  Env: string[];
  Labels: Record<string, string>;
  Volumes: Record<string, unknown>;
  ExposedPorts: Record<string, unknown>;
  Healthcheck?: { Test: string[] };
  StopSignal?: string;
}

function run(command: string, args: readonly string[], timeoutMs = 120_000): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${String(result.status)}): ${result.error?.message ?? ''}${result.stderr}`);
  }
  return result.stdout;
}

/** Why the image cannot be built here, or null when it can. */
function cannotBuild(): string | null {
  if (process.getuid?.() !== 0) return 'buildah mount and chroot need root';
  for (const tool of ['buildah', 'mmdebstrap', 'chroot']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore', timeout: 15_000 }).status !== 0) return `${tool} is not installed (npm test installs buildah and mmdebstrap when run as root)`;
  }
  const probe = spawnSync('buildah', ['--storage-driver', 'vfs', '--root', join(tmpdir(), 'kafscale-buildah-probe'), '--runroot', join(tmpdir(), 'kafscale-buildah-probe-run'), 'info'], { encoding: 'utf8', timeout: 30_000 });
  rmSync(join(tmpdir(), 'kafscale-buildah-probe'), { recursive: true, force: true });
  rmSync(join(tmpdir(), 'kafscale-buildah-probe-run'), { recursive: true, force: true });
  if (probe.status !== 0) return `buildah cannot run here: ${probe.stderr.trim().split('\n').pop() ?? ''}`;
  return null;
}

/** The instructions of the Containerfile (continuation lines joined), for comparison with the built image. */
function containerfile(): Map<string, string[]> {
  const text = readFileSync(join(repoRoot, 'Containerfile'), 'utf8').replace(/\\\n\s*/g, '');
  const instructions = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    if (match === null) continue;
    const [, keyword = '', rest = ''] = match;
    instructions.set(keyword, [...(instructions.get(keyword) ?? []), rest]);
  }
  return instructions;
}

describe('Containerfile', () => {
  it('builds on a pinned Node 24 slim image, runs the shared root filesystem script and configures a non-root, tini-managed image', () => {
    const file = containerfile();
    const nodeImage = /NODE_IMAGE=(\S+)/.exec((file.get('ARG') ?? []).join('\n'))?.[1] ?? '';
    assert.match(nodeImage, /node:24\.\d+\.\d+-\w+-slim(@sha256:[0-9a-f]{64})?$/, 'a pinned node:24.x.y-<debian>-slim base');
    assert.ok((file.get('RUN') ?? []).some((r) => r.includes('scripts/build-rootfs.sh /rootfs')), 'the build stage runs scripts/build-rootfs.sh (npm ci --omit=dev inside)');
    assert.deepEqual(file.get('USER'), [`${IMAGE_UID}:${IMAGE_UID}`]);
    // COPY resets ownership to root: the data directory must be handed to the user explicitly.
    assert.ok((file.get('COPY') ?? []).some((c) => c.includes(`--chown=${IMAGE_UID}:${IMAGE_UID}`) && c.includes('/var/lib/kafscale')), 'the data directory belongs to the user');
    assert.deepEqual(JSON.parse(file.get('ENTRYPOINT')?.[0] ?? '[]'), ['/usr/bin/tini', '--', '/usr/local/bin/node', '/app/src/bin/kafscale.ts']);
    assert.deepEqual(file.get('VOLUME'), ['["/var/lib/kafscale"]']);
    assert.match(file.get('HEALTHCHECK')?.[0] ?? '', /CMD \[.*\/healthz/);
    const labels = (file.get('LABEL') ?? []).join(' ');
    for (const label of OCI_LABELS) assert.ok(labels.includes(`${label}=`), `LABEL ${label}`);
  });
});

describe('container image built with buildah (scripts/build-image.sh)', { skip: cannotBuild() ?? false }, () => {
  // Made in before(): a skipped or filtered suite must leave nothing behind.
  let work = '';
  let storage = '';
  const tag = `localhost/kafscale-test:${process.pid}`;
  const buildah = (...args: string[]) => run('buildah', ['--root', join(storage, 'root'), '--runroot', join(storage, 'run'), '--storage-driver', 'vfs', ...args]);
  let config: DockerConfig;
  let layerBytes = 0;
  let container = '';
  let rootfs = '';
  let buildSeconds = 0;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'kafscale-image-test-'));
    storage = join(work, 'storage');
    const started = Date.now();
    const build = spawn(join(repoRoot, 'scripts', 'build-image.sh'), ['--tag', tag, '--storage-root', storage], {
      env: { ...process.env, KAFSCALE_IMAGE_CACHE: join(tmpdir(), 'kafscale-image-cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    build.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    build.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => build.once('exit', resolve));
    assert.equal(code, 0, `build-image.sh failed:\n${output.slice(-4000)}`);
    buildSeconds = (Date.now() - started) / 1000;
    console.log(`# image built in ${buildSeconds.toFixed(0)} s`);
    const inspected = JSON.parse(buildah('inspect', '--type', 'image', tag)) as { Docker: { config: DockerConfig }; Manifest: string };
    config = inspected.Docker.config;
    layerBytes = (JSON.parse(inspected.Manifest) as { layers: Array<{ size: number }> }).layers.reduce((sum, layer) => sum + layer.size, 0);
    container = buildah('from', '--pull-never', tag).trim();
    rootfs = buildah('mount', container).trim();
  }, { timeout: BUILD_TIMEOUT_MS });

  after(() => {
    if (work === '') return;
    try {
      if (container !== '') {
        buildah('umount', container);
        buildah('rm', container);
      }
      buildah('rmi', '--force', tag);
    } catch {
      // the storage goes below in any case
    }
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('runs as the non-root user kafscale, under tini, with the broker as the default command', () => {
    assert.equal(config.User, `${IMAGE_UID}:${IMAGE_UID}`);
    assert.match(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), new RegExp(`^kafscale:x:${IMAGE_UID}:${IMAGE_UID}:`, 'm'));
    assert.deepEqual(config.Entrypoint, ['/usr/bin/tini', '--', '/usr/local/bin/node', '/app/src/bin/kafscale.ts']);
    assert.deepEqual(config.Cmd, ['broker']);
    assert.equal(config.StopSignal, 'SIGTERM');
    assert.ok(config.Env.includes('KAFSCALE_DATA_DIR=/var/lib/kafscale'));
    assert.ok(config.Env.some((pair) => pair.startsWith('PATH=') && pair.includes('/usr/local/bin')), 'PATH leads to node');
    assert.ok('/var/lib/kafscale' in config.Volumes, 'the data directory is a volume');
    assert.equal(statSync(join(rootfs, 'var/lib/kafscale')).uid, IMAGE_UID, 'the data directory belongs to kafscale');
    assert.deepEqual(Object.keys(config.ExposedPorts).sort(), ['9092/tcp', '9093/tcp']);
    assert.ok(config.Healthcheck?.Test.some((part) => part.includes('/healthz')), JSON.stringify(config.Healthcheck));
  });

  it('carries the OCI labels, and matches the Containerfile', () => {
    const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    for (const label of OCI_LABELS) assert.ok((config.Labels[label] ?? '') !== '', `label ${label} missing`);
    assert.equal(config.Labels['org.opencontainers.image.version'], version);
    assert.equal(config.Labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    assert.match(config.Labels['org.opencontainers.image.revision'] ?? '', /^[0-9a-f]{40}$/);
    const file = containerfile();
    assert.deepEqual(JSON.parse(file.get('ENTRYPOINT')?.[0] ?? '[]'), config.Entrypoint);
    assert.deepEqual(JSON.parse(file.get('CMD')?.[0] ?? '[]'), config.Cmd);
    const healthcheck = /CMD (\[.*\])$/.exec(file.get('HEALTHCHECK')?.[0] ?? '')?.[1] ?? '[]';
    assert.deepEqual(['CMD', ...(JSON.parse(healthcheck) as string[])], config.Healthcheck?.Test);
  });

  it(`is at most ${MAX_IMAGE_BYTES / 1e6} MB, with Node 24 from the npm package and no Debian nodejs, shell or package manager`, () => {
    console.log(`# image: ${(layerBytes / 1e6).toFixed(1)} MB uncompressed, built in ${buildSeconds.toFixed(0)} s`);
    assert.ok(layerBytes > 50e6, `suspiciously small: ${layerBytes} bytes`);
    assert.ok(layerBytes <= MAX_IMAGE_BYTES, `${(layerBytes / 1e6).toFixed(1)} MB > ${MAX_IMAGE_BYTES / 1e6} MB`);
    const version = run(CHROOT, [rootfs, '/usr/local/bin/node', '--version']).trim();
    const locked = (JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }).packages['node_modules/node']?.version;
    assert.equal(version, `v${String(locked)}`, 'the runtime is the node package the lockfile pins');
    for (const absent of ['usr/bin/nodejs', 'usr/share/nodejs', 'usr/lib/node_modules', 'bin/sh', 'usr/bin/apt-get', 'usr/bin/dpkg', 'app/node_modules/node', 'app/node_modules/typescript']) {
      assert.ok(!existsSync(join(rootfs, absent)), `${absent} should not be in the image`);
    }
    assert.ok(existsSync(join(rootfs, 'usr/bin/tini')));
    assert.ok(readFileSync(join(rootfs, 'etc/ssl/certs/ca-certificates.crt'), 'utf8').includes('BEGIN CERTIFICATE'), 'a CA bundle');
  });

  it('starts the broker from the image root filesystem as kafscale (chroot, the image entrypoint), answers ApiVersions and /healthz, drains on SIGTERM through tini', { timeout: 120_000 }, async () => {
    const kafkaPort = await freePort('127.0.0.1');
    let opsPort = await freePort('127.0.0.1');
    while (opsPort === kafkaPort) opsPort = await freePort('127.0.0.1');
    const dataDir = mkdtempSync(join(rootfs, 'tmp', 'data-'));
    run('chown', [`${IMAGE_UID}:${IMAGE_UID}`, dataDir]);
    const env: Record<string, string> = {
      ...Object.fromEntries(config.Env.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])),
      KAFSCALE_DATA_DIR: dataDir.slice(rootfs.length),
      KAFSCALE_BROKER_ADDR: `127.0.0.1:${kafkaPort}`,
      KAFSCALE_BROKER_HOST: '127.0.0.1',
      KAFSCALE_METRICS_ADDR: `127.0.0.1:${opsPort}`,
      // tini is not PID 1 under chroot (it is in a container): let it reap as a subreaper.
      TINI_SUBREAPER: '1',
    };
    const cacheBefore = cacheFiles(join(rootfs, 'app/node_modules/.cache/kafscale-compile-cache'));
    assert.ok([...cacheBefore.keys()].some((path) => path.includes(`-${IMAGE_UID}/`)) && cacheBefore.size > 100, `the image carries a compile cache for ${IMAGE_UID} (${cacheBefore.size} files)`);
    const broker: ChildProcess = spawn(CHROOT, [`--userspec=${config.User}`, rootfs, ...config.Entrypoint, ...config.Cmd], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    broker.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    broker.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => broker.once('exit', (code) => resolve(code)));
    try {
      let client: WireClient | null = null;
      const deadline = Date.now() + 30_000;
      while (client === null) {
        try {
          client = await WireClient.connect('127.0.0.1', kafkaPort, 'image-test');
        } catch (error) {
          assert.ok(Date.now() < deadline && broker.exitCode === null, `broker did not listen: ${(error as Error).message}\n${output.slice(-3000)}`);
          await sleep(200);
        }
      }
      try {
        const versions = await client.send(18, 3, { clientSoftwareName: 'image-test', clientSoftwareVersion: '1' }, 10_000);
        assert.equal(versions.errorCode, 0);
        assert.ok(versions.apiKeys.some((k) => k.apiKey === 0), 'Produce is advertised');
      } finally {
        client.close();
      }
      const health = await fetch(`http://127.0.0.1:${opsPort}/healthz`);
      assert.equal(health.status, 200);
      // The image's own HEALTHCHECK command, run inside the image as its user.
      const check = spawnSync(CHROOT, [`--userspec=${config.User}`, rootfs, ...(config.Healthcheck?.Test.slice(1) ?? [])], { env, timeout: 30_000 });
      assert.equal(check.status, 0, `HEALTHCHECK failed: ${String(check.stderr)}`);
      const processUser = run('ps', ['-o', 'user=', '--ppid', String(broker.pid)]).trim();
      assert.ok(processUser === 'kafscale' || processUser === String(IMAGE_UID), `node runs as ${processUser}`);
      broker.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(30_000).then(() => 'timeout' as const)]);
      assert.equal(code, 0, `SIGTERM through tini: exit ${String(code)}\n${output.slice(-3000)}`);
      assert.match(output, /kafscale broker stopped/);
      // The image's compile cache held every module: the broker compiled and stripped nothing itself.
      assert.deepEqual(cacheFiles(join(rootfs, 'app/node_modules/.cache/kafscale-compile-cache')), cacheBefore);
    } finally {
      if (broker.exitCode === null) broker.kill('SIGKILL');
    }
  });
});
