// Captures the protobuf bodies the real kubectl 1.32 sends (through a throwaway HTTPS server on loopback) and
// decodes them live.
import t from 'tap';
import { startCaptureServer, type CapturedRequest } from './fixtures/kubectl-capture.ts';
import { decodeProtobufBody } from '../../../control/apiserver/protobuf/index.ts';

const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'n-uid', resourceVersion: '5' }, spec: {} };
const pod = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'p1', namespace: 'default', uid: 'p-uid', resourceVersion: '7',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs-uid', controller: true }] },
  spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] }, status: { phase: 'Running' },
};

const server = await startCaptureServer((req) => {
  const path = req.url.split('?')[0];
  if (path === '/api/v1/nodes/n1') return { status: 200, body: node };
  if (req.method === 'GET' && path === '/api/v1/pods') return { status: 200, body: { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '9' }, items: [pod] } };
  if (req.method === 'DELETE') return { status: 200, body: pod };
  if (req.method !== 'POST') return undefined;
  // echo the decoded object, as the real server would answer with the stored one
  const obj = decodeProtobufBody(req.body) as { kind: string; metadata?: { name?: string }; status?: unknown };
  if (obj.kind === 'TokenRequest') obj.status = { token: 'captured-token', expirationTimestamp: '2030-01-01T00:00:00Z' };
  if (obj.kind === 'SelfSubjectAccessReview') obj.status = { allowed: true };
  return { status: 201, body: obj };
});
t.teardown(() => server.close());

async function capture(args: string[]): Promise<CapturedRequest> {
  const before = server.requests.length;
  const res = await server.kubectl(args);
  t.equal(res.code, 0, `kubectl ${args.join(' ')} succeeds: ${res.stderr}`);
  const sent = server.requests.slice(before).filter((r) => r.contentType === 'application/vnd.kubernetes.protobuf');
  t.equal(sent.length, 1, `kubectl ${args.join(' ')} sent one protobuf body`);
  return sent[0];
}

t.test('create namespace', async (t) => {
  const req = await capture(['create', 'namespace', 'team-a']);
  t.equal(req.body.subarray(0, 4).toString('latin1'), 'k8s\0');
  t.same(decodeProtobufBody(req.body), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' }, spec: {}, status: {} });
});

t.test('create deployment with replicas and a port', async (t) => {
  const req = await capture(['create', 'deployment', 'web', '--image=busybox:1.36', '--replicas=2', '--port=8080']);
  t.match(req.url, /^\/apis\/apps\/v1\/namespaces\/default\/deployments\?fieldManager=kubectl-create/);
  t.same(decodeProtobufBody(req.body), {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { app: 'web' } },
    spec: {
      replicas: 2, selector: { matchLabels: { app: 'web' } }, strategy: {},
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'busybox', image: 'busybox:1.36', ports: [{ containerPort: 8080 }], resources: {} }] } },
    },
    status: {},
  });
});

t.test('replicas=0 is kept (a pointer field set to zero)', async (t) => {
  const req = await capture(['create', 'deployment', 'zero', '--image=busybox', '--replicas=0']);
  t.equal((decodeProtobufBody(req.body) as { spec: { replicas: number } }).spec.replicas, 0);
});

t.test('create configmap and secret', async (t) => {
  const cm = await capture(['create', 'configmap', 'settings', '--from-literal=a=b', '--from-literal=mode=fast']);
  t.same(decodeProtobufBody(cm.body), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { a: 'b', mode: 'fast' } });
  const secret = await capture(['create', 'secret', 'generic', 'creds', '--from-literal=user=admin', '--from-literal=pass=s3cr3t!']);
  t.same(decodeProtobufBody(secret.body), {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' },
    data: { user: Buffer.from('admin').toString('base64'), pass: Buffer.from('s3cr3t!').toString('base64') },
  });
  const typed = await capture(['create', 'secret', 'docker-registry', 'reg', '--docker-server=r.example', '--docker-username=u', '--docker-password=p']);
  const decoded = decodeProtobufBody(typed.body) as { type: string; data: Record<string, string> };
  t.equal(decoded.type, 'kubernetes.io/dockerconfigjson');
  t.match(JSON.parse(Buffer.from(decoded.data['.dockerconfigjson'], 'base64').toString()), { auths: { 'r.example': { username: 'u', password: 'p' } } });
});

t.test('create service with int-or-string target ports', async (t) => {
  const req = await capture(['create', 'service', 'clusterip', 'svc', '--tcp=80:8080', '--tcp=443:https']);
  t.same(decodeProtobufBody(req.body), {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', labels: { app: 'svc' } },
    spec: {
      ports: [{ name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080 }, { name: '443-https', protocol: 'TCP', port: 443, targetPort: 'https' }],
      selector: { app: 'svc' }, type: 'ClusterIP',
    },
    status: { loadBalancer: {} },
  });
});

t.test('create serviceaccount, job, token', async (t) => {
  t.same(decodeProtobufBody((await capture(['create', 'serviceaccount', 'robot'])).body),
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot' } });
  t.same(decodeProtobufBody((await capture(['create', 'job', 'once', '--image=busybox', '--', 'echo', 'hi'])).body), {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'once' },
    spec: { template: { metadata: {}, spec: { containers: [{ name: 'once', image: 'busybox', command: ['echo', 'hi'], resources: {} }], restartPolicy: 'Never' } } },
    status: {},
  });
  const token = await capture(['create', 'token', 'robot', '--duration=10m', '--audience=api', '--audience=vault']);
  t.equal(token.url, '/api/v1/namespaces/default/serviceaccounts/robot/token');
  t.same(decodeProtobufBody(token.body), {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: {}, spec: { audiences: ['api', 'vault'], expirationSeconds: 600 }, status: {},
  });
});

t.test('create token bound to a pod', async (t) => {
  const req = await capture(['create', 'token', 'robot', '--bound-object-kind=Pod', '--bound-object-name=p1', '--bound-object-uid=uid-1']);
  t.same(decodeProtobufBody(req.body), {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: {},
    spec: { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p1', uid: 'uid-1' } }, status: {},
  });
});

t.test('auth can-i', async (t) => {
  t.same(decodeProtobufBody((await capture(['auth', 'can-i', 'delete', 'deployments.apps', '-n', 'prod'])).body), {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: {},
    spec: { resourceAttributes: { namespace: 'prod', verb: 'delete', group: 'apps', resource: 'deployments' } }, status: {},
  });
  t.same(decodeProtobufBody((await capture(['auth', 'can-i', 'get', '/healthz'])).body), {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: {},
    spec: { nonResourceAttributes: { path: '/healthz', verb: 'get' } }, status: {},
  });
});

t.test('drain without eviction sends DeleteOptions as protobuf; gracePeriodSeconds=0 is kept', async (t) => {
  const req = await capture(['drain', 'n1', '--timeout=20s', '--disable-eviction', '--grace-period=0']);
  t.equal(req.method, 'DELETE');
  t.same(decodeProtobufBody(req.body), { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
});

t.test('rbac: role, clusterrole (rules, non-resource URLs, aggregation), bindings', async (t) => {
  t.same(decodeProtobufBody((await capture(['create', 'role', 'reader', '--verb=get,list', '--resource=pods', '--resource-name=a'])).body), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'reader' },
    rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }],
  });
  t.same(decodeProtobufBody((await capture(['create', 'clusterrole', 'logs', '--verb=get', '--resource=nodes', '--non-resource-url=/logs/*'])).body), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'logs' },
    rules: [{ verbs: ['get'], apiGroups: [''], resources: ['nodes'] }, { verbs: ['get'], nonResourceURLs: ['/logs/*'] }],
  });
  t.same(decodeProtobufBody((await capture(['create', 'clusterrole', 'agg', '--aggregation-rule=team=a'])).body), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'agg' },
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { team: 'a' } }] },
  });
  t.same(decodeProtobufBody((await capture(['create', 'rolebinding', 'rb', '--role=reader', '--user=alice', '--serviceaccount=default:robot'])).body), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'rb' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }, { kind: 'ServiceAccount', name: 'robot', namespace: 'default' }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' },
  });
  t.same(decodeProtobufBody((await capture(['create', 'clusterrolebinding', 'crb', '--clusterrole=logs', '--group=ops'])).body), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'crb' },
    subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'ops' }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'logs' },
  });
});

t.test('priorityclass, cronjob, quota, pdb, ingress, nodeport and externalname services', async (t) => {
  t.same(decodeProtobufBody((await capture(['create', 'priorityclass', 'high', '--value=1000', '--description=important', '--preemption-policy=Never'])).body), {
    apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'high' }, value: 1000, description: 'important', preemptionPolicy: 'Never',
  });
  t.same(decodeProtobufBody((await capture(['create', 'cronjob', 'tick', '--image=busybox', '--schedule=*/5 * * * *', '--', 'date'])).body), {
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'tick' },
    spec: { schedule: '*/5 * * * *', jobTemplate: { metadata: { name: 'tick' }, spec: { template: { metadata: {}, spec: {
      containers: [{ name: 'tick', image: 'busybox', command: ['date'], resources: {} }], restartPolicy: 'OnFailure' } } } } },
    status: {},
  });
  t.same(decodeProtobufBody((await capture(['create', 'quota', 'q', '--hard=cpu=1,memory=1G,pods=2', '--scopes=BestEffort'])).body), {
    apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'q' }, spec: { hard: { cpu: '1', memory: '1G', pods: '2' }, scopes: ['BestEffort'] }, status: {},
  });
  t.same(decodeProtobufBody((await capture(['create', 'pdb', 'budget', '--selector=app=web', '--min-available=50%'])).body), {
    apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'budget' },
    spec: { minAvailable: '50%', selector: { matchLabels: { app: 'web' } } }, status: {},
  });
  t.same(decodeProtobufBody((await capture(['create', 'ingress', 'ing', '--rule=foo.com/bar=svc:80'])).body), {
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'ing' },
    spec: { rules: [{ host: 'foo.com', http: { paths: [{ path: '/bar', pathType: 'Exact', backend: { service: { name: 'svc', port: { number: 80 } } } }] } }] },
    status: { loadBalancer: {} },
  });
  t.same(decodeProtobufBody((await capture(['create', 'service', 'nodeport', 'np', '--tcp=80:8080', '--node-port=30080'])).body), {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'np', labels: { app: 'np' } },
    spec: { ports: [{ name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }], selector: { app: 'np' }, type: 'NodePort' },
    status: { loadBalancer: {} },
  });
  t.same(decodeProtobufBody((await capture(['create', 'service', 'externalname', 'ext', '--external-name=example.com'])).body), {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext', labels: { app: 'ext' } },
    spec: { selector: { app: 'ext' }, type: 'ExternalName', externalName: 'example.com' }, status: { loadBalancer: {} },
  });
});
