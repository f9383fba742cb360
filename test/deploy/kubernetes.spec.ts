import { SECRET_VARIABLES } from '../../libs/service-kit/src/secrets';
import { readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { type K8sObject, schemaProblems, unknownFieldProblems } from './kubernetes-schema';
import { knownVariables, repoFile, ROOT, yamlDocuments, yamlFile } from './support';

// The Kubernetes manifests (deploy/kubernetes), validated against the Kubernetes API schemas from
// the kubernetes-models package (strictly: unknown fields fail), then checked for what running
// Gracekeeper needs: probes on the paths the services serve, disruption budgets, secrets as
// files, the node-agent as a sidecar of the NFS server.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const entry = require('../../deploy/runtime/gracekeeper.js') as { PROGRAMS: Record<string, string> };

interface Probe { httpGet?: { path: string; port: string | number } }
interface Container {
  name: string; image: string; args?: string[]; restartPolicy?: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  livenessProbe?: Probe; readinessProbe?: Probe; startupProbe?: Probe;
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[]; initContainers?: Container[];
  volumes?: Array<{ name: string; secret?: { secretName: string; items?: Array<{ key: string; path: string }> } }>;
}
interface Workload extends K8sObject { spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } }

const DIR = 'deploy/kubernetes';
const kustomization = yamlFile<{ resources: string[] }>(`${DIR}/kustomization.yaml`);
const objects = kustomization.resources.flatMap((f) => yamlDocuments(`${DIR}/${f}`)) as K8sObject[];
const byKind = <T extends K8sObject>(kind: string) => objects.filter((o) => o.kind === kind) as T[];
const workloads = [...byKind<Workload>('Deployment'), ...byKind<Workload>('StatefulSet')];
const named = (name: string) => workloads.find((w) => w.metadata?.name === name)!;
const gracekeeperContainers = (w: Workload) => [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers].filter((c) => c.image === 'gracekeeper');
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
/** The admin port every service listens on in the image (deploy/Dockerfile ENV GK_ADMIN_PORT). */
const IMAGE_ADMIN_PORT = Number(/GK_ADMIN_PORT=(\d+)/.exec(repoFile('deploy/Dockerfile'))![1]);
const IMAGE_UID = Number(/^USER (\d+)/m.exec(repoFile('deploy/Dockerfile'))![1]);

describe('deploy/kubernetes manifests', () => {
  it('kustomization lists every manifest of the directory', () => {
    const files = readdirSync(join(ROOT, DIR)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    expect([...kustomization.resources].sort()).toEqual(files);
    expect(objects.length).toBeGreaterThanOrEqual(10);
  });

  it('every object is valid against the Kubernetes API schema', () => {
    expect(objects.flatMap(schemaProblems)).toEqual([]);
  });

  it('no object has a field the API does not know (strict)', () => {
    expect(unknownFieldProblems(objects)).toEqual([]);
  }, 60_000);

  it('the validators do catch bad objects (control)', () => {
    const deployment = JSON.parse(JSON.stringify(named('gracekeeper-coordinator'))) as Workload;
    deployment.spec.template.spec.containers[0]!.ports![0]!.containerPort = 'eighty' as unknown as number;
    expect(schemaProblems(deployment).join()).toMatch(/containerPort must be integer/);
    expect(schemaProblems({ apiVersion: 'apps/v1', kind: 'Deployments' })).toEqual(['apps/v1 Deployments: no such kind in the Kubernetes API']);
    const typo = JSON.parse(JSON.stringify(named('gracekeeper-coordinator'))) as Workload;
    (typo.spec.template.spec.containers[0] as unknown as Record<string, unknown>).livenessprobe = {};
    expect(unknownFieldProblems([typo]).join()).toMatch(/livenessprobe/);
  }, 60_000);

  it.each(['gracekeeper-coordinator', 'gracekeeper-registry'])('%s: two replicas, probes on /health/live and /health, a disruption budget', (name) => {
    const d = byKind<Workload>('Deployment').find((w) => w.metadata?.name === name)!;
    expect(d.spec.replicas).toBe(2);
    const [c] = d.spec.template.spec.containers;
    const admin = c!.ports!.find((p) => p.name === 'admin')!;
    expect(admin.containerPort).toBe(IMAGE_ADMIN_PORT);
    expect(c!.livenessProbe?.httpGet).toEqual({ path: '/health/live', port: 'admin' });
    expect(c!.readinessProbe?.httpGet).toEqual({ path: '/health', port: 'admin' });
    const pdbs = byKind<K8sObject & { spec: { minAvailable?: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget')
      .filter((p) => matches(p.spec.selector.matchLabels, d.spec.template.metadata.labels));
    expect(pdbs).toHaveLength(1);
    expect(pdbs[0]!.spec.minAvailable).toBe(1);
  });

  it('every Service and selector finds its pods', () => {
    for (const w of workloads) expect(matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels)).toBe(true);
    for (const s of byKind<K8sObject & { spec: { selector: Record<string, string> } }>('Service')) {
      expect({ service: s.metadata?.name, pods: workloads.filter((w) => matches(s.spec.selector, w.spec.template.metadata.labels)).length }).toEqual({ service: s.metadata?.name, pods: 1 });
    }
  });

  it('runs every Gracekeeper container non-root (the image user), read-only, without capabilities', () => {
    for (const w of workloads) {
      expect(w.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: IMAGE_UID });
      for (const c of gracekeeperContainers(w)) {
        expect(Object.keys(entry.PROGRAMS)).toContain(c.args?.[0]);
        expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      }
    }
    expect(byKind<K8sObject & { metadata: { labels: Record<string, string> } }>('Namespace')[0]!.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('gives secrets only as files from Secret volumes, never as values', () => {
    for (const w of workloads) {
      const volumes = w.spec.template.spec.volumes ?? [];
      for (const c of gracekeeperContainers(w)) {
        for (const e of c.env ?? []) {
          expect({ name: e.name, secretInline: (SECRET_VARIABLES as readonly string[]).includes(e.name) }).toEqual({ name: e.name, secretInline: false });
          if (!e.name.endsWith('_FILE') || !(SECRET_VARIABLES as readonly string[]).includes(e.name.replace(/_FILE$/, ''))) continue;
          const mount = c.volumeMounts?.find((m) => posix.dirname(e.value!) === m.mountPath);
          const secret = volumes.find((v) => v.name === mount?.name)?.secret;
          expect({ variable: e.name, fileInSecret: secret?.items?.some((i) => i.path === posix.basename(e.value!)) }).toEqual({ variable: e.name, fileInSecret: true });
        }
        expect(c.env?.some((e) => e.name === 'GK_ADMIN_TOKEN_FILE')).toBe(true);
      }
    }
    expect(named('gracekeeper-registry').spec.template.spec.containers[0]!.env?.some((e) => e.name === 'DATABASE_URL_FILE')).toBe(true);
  });

  it('runs the node-agent as a native sidecar of each NFS server pod, named after the pod, sharing its socket', () => {
    const nfs = named('nfs');
    expect(nfs.kind).toBe('StatefulSet');
    const agent = nfs.spec.template.spec.initContainers?.find((c) => c.name === 'node-agent');
    expect(agent).toMatchObject({ image: 'gracekeeper', restartPolicy: 'Always', args: ['node-agent'] });
    const env = new Map(agent!.env!.map((e) => [e.name, e]));
    expect(env.get('GK_NODE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(agent!.startupProbe?.httpGet?.path).toBe('/health');
    expect(agent!.livenessProbe?.httpGet?.path).toBe('/health/live');
    // The socket is in a directory the agent creates (0750) inside the shared volume, whose own
    // directory (an emptyDir with fsGroup) is group-writable: the agent refuses those.
    const socket = env.get('GK_JSON_SOCKET')!.value!;
    const mount = agent!.volumeMounts!.find((m) => posix.dirname(posix.dirname(socket)) === m.mountPath)!;
    const server = nfs.spec.template.spec.containers.find((c) => c.name === 'nfs-server')!;
    expect(server.volumeMounts).toContainEqual({ name: mount.name, mountPath: mount.mountPath });
    const pdb = byKind<K8sObject & { spec: { maxUnavailable?: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget')
      .find((p) => matches(p.spec.selector.matchLabels, nfs.spec.template.metadata.labels));
    expect(pdb?.spec.maxUnavailable).toBe(1);
  });

  it('every program reads the shared settings, with the event stream on three replicas', () => {
    const config = byKind<K8sObject & { data: Record<string, string> }>('ConfigMap').find((c) => c.metadata?.name === 'gracekeeper')!;
    expect(config.data.GK_STREAM_REPLICAS).toBe('3');
    for (const w of workloads) for (const c of gracekeeperContainers(w)) expect(JSON.stringify(c)).toContain('"configMapRef":{"name":"gracekeeper"}');
  });

  it('sets only variables the programs read', () => {
    const known = knownVariables();
    const config = byKind<K8sObject & { data: Record<string, string> }>('ConfigMap').find((c) => c.metadata?.name === 'gracekeeper')!;
    const set = [...Object.keys(config.data), ...workloads.flatMap((w) => gracekeeperContainers(w).flatMap((c) => (c.env ?? []).map((e) => e.name)))];
    expect(set.filter((name) => !known.has(name))).toEqual([]);
  });
});
