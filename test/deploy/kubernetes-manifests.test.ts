/**
 * deploy/kubernetes: every overlay renders with `kubectl kustomize`, every object validates against the
 * Kubernetes OpenAPI schemas (kubernetes-models; the ServiceMonitor CRD against its own schema from
 * @kubernetes-models/prometheus-operator), no object has a field the schemas do not know, and the project's
 * rules hold: probes, requests and limits, non-root, read-only root filesystem, all capabilities dropped,
 * a grace period longer than preStop + drain, settings that the broker's own config loader accepts.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CONFIG_SETTINGS, loadConfig } from '../../src/config/index.ts';
import { findKubectl, overlayNames, renderOverlay, unknownFields, validateObject, type K8sObject } from './rendered-manifests.ts';

/** The drain the broker does on SIGTERM (listener drain ≤ 5 s, then flush drain and partition release). */
const BROKER_DRAIN_BUDGET_S = 20;
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);
/** The proxy's settings (the interface the proxy implements, docs/kubernetes.md) beside the shared ones. */
const PROXY_ENV = new Set(['KAFSCALE_PROXY_ADDR', 'KAFSCALE_PROXY_ADVERTISED_HOST', 'KAFSCALE_PROXY_ADVERTISED_PORT', 'KAFSCALE_PROXY_BOOTSTRAP', 'KAFSCALE_PROXY_VIRTUAL_BROKERS', 'KAFSCALE_METRICS_ADDR', 'KAFSCALE_LOG_LEVEL']);
const BROKER_ENV = new Set(CONFIG_SETTINGS.map((s) => s.env));

interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: unknown; configMapKeyRef?: unknown } }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: unknown } };
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; privileged?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<{ name: string; persistentVolumeClaim?: unknown; emptyDir?: unknown }>;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  terminationGracePeriodSeconds?: number;
  topologySpreadConstraints?: unknown[];
  serviceAccountName?: string;
  subdomain?: string;
}

interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
  };
}

const kubectl = findKubectl();
const skip = 'missing' in kubectl ? kubectl.missing : false;

function workloads(objects: readonly K8sObject[]): Workload[] {
  return objects.filter((o) => WORKLOAD_KINDS.has(o.kind)) as Workload[];
}

function find<T extends K8sObject = K8sObject>(objects: readonly K8sObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found !== undefined, `${kind}/${name} missing`);
  return found as T;
}

function container(workload: Workload, name: string): Container {
  const found = workload.spec.template.spec.containers.find((c) => c.name === name);
  assert.ok(found !== undefined, `${workload.kind}/${workload.metadata.name} has no container ${name}`);
  return found;
}

function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/**
 * The environment a container gets, as the kubelet would build it: envFrom ConfigMaps of the render,
 * Secrets from `secrets` (they are not in the manifests), fieldRefs from `fields`, then `env` with $(VAR)
 * expansion.
 */
function environmentOf(c: Container, objects: readonly K8sObject[], secrets: Record<string, Record<string, string>>, fields: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef !== undefined) Object.assign(env, (find(objects, 'ConfigMap', from.configMapRef.name) as K8sObject & { data: Record<string, string> }).data);
    if (from.secretRef !== undefined) {
      const secret = secrets[from.secretRef.name];
      assert.ok(secret !== undefined, `container ${c.name} reads Secret ${from.secretRef.name}, which the test does not know`);
      Object.assign(env, secret);
    }
  }
  for (const variable of c.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value.replace(/\$\((\w+)\)/g, (_, name: string) => env[name] ?? `$(${name})`);
    else if (variable.valueFrom?.fieldRef !== undefined) {
      const value = fields[variable.valueFrom.fieldRef.fieldPath];
      assert.ok(value !== undefined, `container ${c.name}: fieldRef ${variable.valueFrom.fieldRef.fieldPath} not simulated`);
      env[variable.name] = value;
    }
  }
  return env;
}

const FIELDS = { 'status.podIP': '10.1.2.3', 'metadata.namespace': 'streaming', 'metadata.name': 'pod-0' };
const S3_SECRET = {
  'kafscale-s3': {
    KAFSCALE_S3_BUCKET: 'kafscale-data',
    KAFSCALE_S3_REGION: 'eu-west-1',
    KAFSCALE_S3_ACCESS_KEY: 'AKIAEXAMPLE',
    KAFSCALE_S3_SECRET_KEY: 'example-secret',
  },
};

describe('Kubernetes manifests (deploy/kubernetes)', { skip }, () => {
  const rendered = new Map<string, K8sObject[]>();

  before(() => {
    if ('missing' in kubectl) return;
    for (const overlay of overlayNames()) rendered.set(overlay, renderOverlay(kubectl.path, overlay));
  });

  it('has the single-node and cluster overlays, and each renders objects', () => {
    assert.ok(rendered.has('single-node') && rendered.has('cluster'), [...rendered.keys()].join(','));
    for (const [overlay, objects] of rendered) assert.ok(objects.length > 0, `${overlay} renders nothing`);
  });

  it('every object validates against the Kubernetes OpenAPI schemas (ServiceMonitor: its CRD schema)', async () => {
    const problems: string[] = [];
    for (const [overlay, objects] of rendered) {
      for (const object of objects) {
        for (const problem of await validateObject(object)) problems.push(`${overlay} ${object.kind}/${object.metadata.name}: ${problem}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('no object has a field the schemas do not know (a misspelt field is caught)', { timeout: 180_000 }, () => {
    const all = [...rendered].flatMap(([overlay, objects]) => objects.map((object) => ({ where: `${overlay} ${object.kind}/${object.metadata.name}`, object })));
    // The check can fail: a typo in a copy of one Deployment must be named.
    const broker = all.find((o) => o.object.kind === 'Deployment');
    assert.ok(broker !== undefined);
    const typo = structuredClone(broker.object) as Workload;
    (typo.spec.template.spec.containers[0] as unknown as Record<string, unknown>)['readinesProbe'] = {};
    const problems = unknownFields([...all, { where: 'typo', object: typo }]);
    assert.ok(problems.some((p) => p.startsWith('typo:') && p.includes('readinesProbe')), `the typo was not caught: ${problems.join('\n')}`);
    assert.deepEqual(problems.filter((p) => !p.startsWith('typo:')), []);
  });

  it('every container has probes, requests and limits, runs as non-root with a read-only root filesystem and no capabilities', () => {
    const problems: string[] = [];
    for (const [overlay, objects] of rendered) {
      for (const workload of workloads(objects)) {
        const pod = workload.spec.template.spec;
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
          const where = `${overlay} ${workload.kind}/${workload.metadata.name} container ${c.name}`;
          const problem = (text: string) => problems.push(`${where}: ${text}`);
          // A Job's containers run to completion: nothing routes to them and a hung one hits the Job's limits.
          const runsToCompletion = workload.kind === 'Job' || workload.kind === 'CronJob';
          if (c.livenessProbe === undefined && !runsToCompletion) problem('no livenessProbe');
          if (c.readinessProbe === undefined && !runsToCompletion) problem('no readinessProbe');
          for (const resource of ['cpu', 'memory']) {
            if (c.resources?.requests?.[resource] === undefined) problem(`no ${resource} request`);
            if (c.resources?.limits?.[resource] === undefined) problem(`no ${resource} limit`);
          }
          const nonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
          const uid = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
          if (nonRoot !== true) problem('runAsNonRoot is not true');
          if (uid === 0) problem('runs as uid 0');
          if (c.securityContext?.readOnlyRootFilesystem !== true) problem('root filesystem is writable');
          if (c.securityContext?.allowPrivilegeEscalation !== false) problem('allowPrivilegeEscalation is not false');
          if (c.securityContext?.privileged === true) problem('privileged');
          if (!(c.securityContext?.capabilities?.drop ?? []).includes('ALL')) problem('capabilities are not all dropped');
          if ((c.securityContext?.capabilities?.add ?? []).length > 0) problem('adds capabilities');
          if (c.image === undefined || !/:[\w.-]+$/.test(c.image) || c.image.endsWith(':latest')) problem(`image ${String(c.image)} is not pinned to a tag`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('grace periods outlast preStop plus the drain; selectors match their pods; Services and monitors find their ports', () => {
    for (const [overlay, objects] of rendered) {
      for (const workload of workloads(objects)) {
        const pod = workload.spec.template.spec;
        const where = `${overlay} ${workload.kind}/${workload.metadata.name}`;
        // A Job's selector is generated by Kubernetes; every other workload states one.
        if (workload.kind !== 'Job') assert.ok(selects(workload.spec.selector.matchLabels, workload.spec.template.metadata.labels), `${where}: selector does not match its template`);
        const preStop = Math.max(0, ...pod.containers.map((c) => c.lifecycle?.preStop?.sleep?.seconds ?? 0));
        const kafscale = workload.kind !== 'Job' && pod.containers.some((c) => c.image?.startsWith('kafscale'));
        if (kafscale) {
          assert.ok(preStop > 0, `${where}: no preStop delay before SIGTERM`);
          assert.ok((pod.terminationGracePeriodSeconds ?? 30) > preStop + BROKER_DRAIN_BUDGET_S, `${where}: grace ${String(pod.terminationGracePeriodSeconds)} s ≤ preStop ${preStop} s + drain ${BROKER_DRAIN_BUDGET_S} s`);
        }
        for (const volume of pod.volumes ?? []) {
          assert.ok([...pod.containers, ...(pod.initContainers ?? [])].some((c) => c.volumeMounts?.some((m) => m.name === volume.name)), `${where}: volume ${volume.name} is mounted nowhere`);
        }
      }
      const pods = workloads(objects);
      for (const service of objects.filter((o) => o.kind === 'Service') as Array<K8sObject & { spec: { selector: Record<string, string>; ports: Array<{ name: string; targetPort: string | number }> } }>) {
        const targets = pods.filter((w) => selects(service.spec.selector, w.spec.template.metadata.labels));
        assert.ok(targets.length > 0, `${overlay} Service/${service.metadata.name} selects no workload`);
        for (const port of service.spec.ports) {
          if (typeof port.targetPort !== 'string') continue;
          assert.ok(targets.every((w) => w.spec.template.spec.containers.some((c) => c.ports?.some((p) => p.name === port.targetPort))), `${overlay} Service/${service.metadata.name}: target port ${port.targetPort} not on its pods`);
        }
      }
      for (const monitor of objects.filter((o) => o.kind === 'ServiceMonitor') as Array<K8sObject & { spec: { selector: { matchLabels?: Record<string, string> }; endpoints: Array<{ port: string }> } }>) {
        const services = objects.filter((o) => o.kind === 'Service' && selects(monitor.spec.selector.matchLabels ?? {}, o.metadata.labels)) as Array<K8sObject & { spec: { ports: Array<{ name: string }> } }>;
        assert.ok(services.length > 0, `${overlay} ServiceMonitor/${monitor.metadata.name} selects no Service`);
        for (const endpoint of monitor.spec.endpoints) assert.ok(services.some((s) => s.spec.ports.some((p) => p.name === endpoint.port)), `no Service port ${endpoint.port}`);
      }
      for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler') as Array<K8sObject & { spec: { scaleTargetRef: { kind: string; name: string } } }>) {
        const target = find<Workload>(objects, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name);
        // A fixed count would be re-applied over the autoscaler's on every `kubectl apply`.
        assert.equal(target.spec.replicas, undefined, `${overlay} ${target.metadata.name}: replicas set although an HPA owns the count`);
      }
      for (const budget of objects.filter((o) => o.kind === 'PodDisruptionBudget') as Array<K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } }>) {
        assert.ok(pods.some((w) => selects(budget.spec.selector.matchLabels, w.spec.template.metadata.labels)), `${overlay} PDB/${budget.metadata.name} selects no pods`);
      }
      for (const policy of objects.filter((o) => o.kind === 'NetworkPolicy') as Array<K8sObject & { spec: { podSelector: { matchLabels: Record<string, string> } } }>) {
        assert.ok(pods.some((w) => selects(policy.spec.podSelector.matchLabels, w.spec.template.metadata.labels)), `${overlay} NetworkPolicy/${policy.metadata.name} selects no pods`);
      }
      for (const w of pods.filter((p) => p.spec.template.spec.containers.some((c) => c.image?.startsWith('kafscale')))) {
        assert.ok(objects.some((o) => o.kind === 'NetworkPolicy' && selects((o as K8sObject & { spec: { podSelector: { matchLabels: Record<string, string> } } }).spec.podSelector.matchLabels, w.spec.template.metadata.labels)), `${overlay}: no NetworkPolicy covers ${w.metadata.name}`);
      }
    }
  });

  it('single-node: a StatefulSet of 1 with embedded metadata and data on a PersistentVolumeClaim, accepted by the config loader', () => {
    const objects = rendered.get('single-node') ?? [];
    const broker = find<Workload>(objects, 'StatefulSet', 'kafscale');
    assert.equal(broker.spec.replicas, 1);
    const claim = broker.spec.volumeClaimTemplates?.[0]?.metadata.name;
    assert.ok(claim !== undefined, 'no volumeClaimTemplate');
    const c = container(broker, 'broker');
    const env = environmentOf(c, objects, {}, FIELDS);
    const mount = c.volumeMounts?.find((m) => m.name === claim);
    assert.ok(mount !== undefined && env['KAFSCALE_DATA_DIR'] === mount.mountPath, `KAFSCALE_DATA_DIR ${String(env['KAFSCALE_DATA_DIR'])} is not the volume's mount path`);
    for (const name of Object.keys(env).filter((n) => n.startsWith('KAFSCALE_'))) assert.ok(BROKER_ENV.has(name), `unknown broker setting ${name}`);
    const config = loadConfig({ argv: c.args?.slice(1) ?? [], env, cwd: '/app' });
    assert.equal(config.metadataStore.kind, 'embedded');
    assert.equal(config.objectStore.kind, 'filesystem');
    assert.equal(config.broker.id, 0);
    assert.equal(config.broker.advertised.host, 'kafscale.streaming.svc');
    assert.deepEqual(c.args, ['broker']);
  });

  for (const overlay of ['cluster', 'cluster-external-etcd']) {
    it(`${overlay}: stateless brokers (ids allocated, pod IP advertised, S3 from a Secret, etcd) and the proxy in front`, () => {
      const objects = rendered.get(overlay) ?? [];
      const brokers = find<Workload>(objects, 'Deployment', 'kafscale-broker');
      assert.equal(brokers.spec.template.spec.volumes, undefined, 'brokers have no volumes');
      assert.ok((brokers.spec.template.spec.topologySpreadConstraints ?? []).length > 0, 'brokers are spread');
      const c = container(brokers, 'broker');
      assert.ok(c.envFrom?.some((f) => f.secretRef?.name === 'kafscale-s3'), 'S3 settings come from the Secret kafscale-s3');
      const env = environmentOf(c, objects, S3_SECRET, FIELDS);
      assert.equal(env['KAFSCALE_BROKER_ID'], undefined, 'no hand-picked ids');
      assert.equal(env['KAFSCALE_BROKER_HOST'], FIELDS['status.podIP'], 'advertises the pod IP (Downward API)');
      for (const name of Object.keys(env).filter((n) => n.startsWith('KAFSCALE_'))) assert.ok(BROKER_ENV.has(name), `unknown broker setting ${name}`);
      const config = loadConfig({ argv: c.args?.slice(1) ?? [], env, cwd: '/app' });
      assert.equal(config.metadataStore.kind, 'etcd');
      assert.equal(config.objectStore.kind, 's3');
      assert.equal(config.broker.allocateId, true);
      if (overlay === 'cluster') {
        const etcd = find<Workload>(objects, 'StatefulSet', 'kafscale-etcd');
        assert.equal(etcd.spec.replicas, 3);
        const endpoints = config.metadataStore.kind === 'etcd' ? config.metadataStore.endpoints : [];
        assert.deepEqual(endpoints, [0, 1, 2].map((i) => `http://kafscale-etcd-${i}.kafscale-etcd:2379`));
        assert.ok(find(objects, 'Service', 'kafscale-etcd'));
      } else {
        assert.ok(!objects.some((o) => o.metadata.name.includes('etcd')), 'no etcd of its own');
      }
      const headless = find<K8sObject & { spec: { clusterIP?: string } }>(objects, 'Service', 'kafscale-broker');
      assert.equal(headless.spec.clusterIP, 'None');

      const proxy = find<Workload>(objects, 'Deployment', 'kafscale-proxy');
      const p = container(proxy, 'proxy');
      assert.deepEqual(p.args, ['proxy']);
      const proxyEnv = environmentOf(p, objects, {}, FIELDS);
      for (const name of Object.keys(proxyEnv).filter((n) => n.startsWith('KAFSCALE_'))) assert.ok(PROXY_ENV.has(name), `unknown proxy setting ${name}`);
      assert.equal(proxyEnv['KAFSCALE_PROXY_BOOTSTRAP'], 'kafscale-broker:9092', 'the proxy bootstraps from the headless broker Service');
      const service = find<K8sObject & { spec: { selector: Record<string, string>; ports: Array<{ port: number }> } }>(objects, 'Service', 'kafscale');
      assert.ok(selects(service.spec.selector, proxy.spec.template.metadata.labels), 'Service kafscale fronts the proxy');
      assert.equal(proxyEnv['KAFSCALE_PROXY_ADVERTISED_HOST'], 'kafscale.streaming.svc', 'the proxy advertises its Service');
      assert.equal(Number(proxyEnv['KAFSCALE_PROXY_ADVERTISED_PORT']), service.spec.ports[0]?.port);
      // Every virtual broker's advertised port is a Service port reaching that virtual broker's listener.
      const proxyConfig = loadConfig({ argv: [], env: proxyEnv, cwd: '/app' });
      assert.ok(proxyConfig.proxy.virtualBrokers > 1, 'the proxy presents several virtual brokers');
      const servicePorts = service.spec.ports as Array<{ port: number; targetPort?: string | number }>;
      for (let i = 0; i < proxyConfig.proxy.virtualBrokers; i++) {
        const exposed = servicePorts.find((sp) => sp.port === proxyConfig.proxy.advertised.port + i);
        assert.ok(exposed !== undefined, `virtual broker ${i}: the Service exposes port ${proxyConfig.proxy.advertised.port + i}`);
        const target = p.ports?.find((cp) => cp.name === exposed.targetPort || cp.containerPort === exposed.targetPort);
        assert.equal(target?.containerPort, proxyConfig.proxy.listen.port + i, `virtual broker ${i}: Service port ${exposed.port} reaches listener ${proxyConfig.proxy.listen.port + i}`);
      }
      for (const kind of ['PodDisruptionBudget', 'HorizontalPodAutoscaler', 'ServiceMonitor', 'NetworkPolicy']) {
        assert.ok(objects.some((o) => o.kind === kind), `${overlay} has no ${kind}`);
      }
      const hpa = find<K8sObject & { spec: { metrics: Array<{ resource?: { name: string } }> } }>(objects, 'HorizontalPodAutoscaler', 'kafscale-broker');
      assert.ok(hpa.spec.metrics.some((m) => m.resource?.name === 'cpu'), 'brokers scale on CPU');
    });
  }

  it('cluster-secure: brokers serve only SASL_SSL with ACLs; the proxy is SASL_SSL both ways as a super user; a Job creates the users from files', () => {
    const objects = rendered.get('cluster-secure') ?? [];
    const brokers = find<Workload>(objects, 'Deployment', 'kafscale-broker');
    const b = container(brokers, 'broker');
    const env = environmentOf(b, objects, S3_SECRET, FIELDS);
    const config = loadConfig({ argv: b.args?.slice(1) ?? [], env, cwd: '/app' });
    assert.deepEqual(config.listeners.map((l) => l.securityProtocol), ['SASL_SSL'], 'no plaintext listener');
    assert.equal(config.listeners[0]?.advertised.host, 'pod-0.kafscale-broker.streaming.svc.cluster.local', 'a DNS name a certificate can cover, not the pod IP');
    assert.equal(brokers.spec.template.spec.subdomain, 'kafscale-broker', 'the per-pod DNS name exists only with the subdomain');
    assert.equal(config.authorization.authorizer, 'acl');
    assert.ok(config.authorization.superUsers.includes('User:kafscale-proxy'));
    const mounted = (c: Container, file: string): boolean => (c.volumeMounts ?? []).some((m) => file.startsWith(`${m.mountPath}/`));
    assert.ok(config.tls !== null && mounted(b, config.tls.certFile) && mounted(b, config.tls.keyFile), 'the broker certificate comes from the mounted Secret');

    const proxy = find<Workload>(objects, 'Deployment', 'kafscale-proxy');
    const p = container(proxy, 'proxy');
    const proxyConfig = loadConfig({ argv: [], env: environmentOf(p, objects, {}, FIELDS), cwd: '/app' });
    assert.equal(proxyConfig.proxy.securityProtocol, 'SASL_SSL');
    assert.equal(proxyConfig.proxy.upstream.securityProtocol, 'SASL_SSL');
    assert.equal(proxyConfig.proxy.upstream.sasl?.username, 'kafscale-proxy');
    assert.ok(mounted(p, proxyConfig.proxy.upstream.sasl?.passwordFile ?? '-'), 'the proxy password is a mounted file');
    assert.ok(proxyConfig.tls !== null && mounted(p, proxyConfig.tls.certFile));

    const job = find<Workload>(objects, 'Job', 'kafscale-users');
    const steps = [...(job.spec.template.spec.initContainers ?? []), ...job.spec.template.spec.containers];
    const users = steps.map((c) => c.args ?? []);
    assert.deepEqual(users.map((args) => args.slice(0, 3)), [['users', 'set', 'admin'], ['users', 'set', 'kafscale-proxy']]);
    for (const [i, c] of steps.entries()) {
      const args = users[i] ?? [];
      assert.ok(mounted(c, args[args.indexOf('--password-file') + 1] ?? '-'), `${c.name}: the password is a file from the Secret, never an argument`);
      assert.equal(environmentOf(c, objects, {}, FIELDS)['KAFSCALE_ETCD_ENDPOINTS'], env['KAFSCALE_ETCD_ENDPOINTS'], 'writes to the brokers\' etcd');
    }
    const etcdPolicy = find<K8sObject & { spec: { ingress: Array<{ from?: Array<{ podSelector?: { matchLabels: Record<string, string> } }> }> } }>(objects, 'NetworkPolicy', 'kafscale-etcd');
    assert.ok(etcdPolicy.spec.ingress.some((rule) => (rule.from ?? []).some((f) => selects(f.podSelector?.matchLabels ?? { none: 'x' }, job.spec.template.metadata.labels))), 'etcd admits the users Job');
  });
});
