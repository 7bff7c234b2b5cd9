// Pure pieces of the HTTP layer: path parsing, discovery documents, OpenAPI, tables, body decoding, field checks.
import t from 'tap';
import { ApiError } from '../../../api/errors.ts';
import { humanDuration } from '../../../api/meta.ts';
import { decodeBody, parseJson } from '../../../control/apiserver/http/body.ts';
import { aggregatedDiscovery, aggregatedVersion, legacyResourceList } from '../../../control/apiserver/http/discovery.ts';
import { buildOpenApi } from '../../../control/apiserver/http/openapi.ts';
import { parseResourcePath } from '../../../control/apiserver/http/request-info.ts';
import { checkDecode } from '../../../control/apiserver/http/schema.ts';
import { toTable, wantsTable } from '../../../control/apiserver/http/table.ts';
import { allStrategies } from '../../../control/apiserver/registry/index.ts';
import { pods, podStatusReason } from '../../../control/apiserver/registry/pods.ts';
import { defaultPullPolicy } from '../../../control/apiserver/registry/common.ts';

t.test('resource paths', async (t) => {
  t.match(parseResourcePath('/api/v1/namespaces/default/pods/web/status'), { group: '', version: 'v1', namespace: 'default', resource: 'pods', name: 'web', subresource: 'status' });
  t.match(parseResourcePath('/apis/apps/v1/deployments'), { group: 'apps', resource: 'deployments', name: undefined });
  t.match(parseResourcePath('/api/v1/namespaces/kube-system'), { resource: 'namespaces', name: 'kube-system', namespace: undefined });
  t.match(parseResourcePath('/api/v1/namespaces/x/finalize'), { resource: 'namespaces', name: 'x', subresource: 'finalize' });
  t.match(parseResourcePath('/api/v1/watch/namespaces/a/pods'), { watchPath: true, namespace: 'a', resource: 'pods' });
  t.equal(parseResourcePath('/api/v1/namespaces/%zz/pods'), undefined, 'bad escapes are not resource paths');
  t.equal(parseResourcePath('/version'), undefined);
});

t.test('discovery', async (t) => {
  t.equal(aggregatedVersion('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'), 'v2');
  t.equal(aggregatedVersion('application/json'), undefined);
  const apps = aggregatedDiscovery(allStrategies, false, 'v2').items.find((i) => i.metadata.name === 'apps')!;
  const deploy = apps.versions[0]!.resources.find((r) => r.resource === 'deployments')!;
  t.match(deploy, { scope: 'Namespaced', singularResource: 'deployment', shortNames: ['deploy'], categories: ['all'] });
  t.match(deploy.subresources, [{ subresource: 'status' }, { subresource: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' } }]);
  const core = legacyResourceList(allStrategies, '', 'v1')!;
  t.match(core.resources.find((r) => r.name === 'pods/eviction'), { group: 'policy', version: 'v1', kind: 'Eviction' });
});

t.test('openapi declares fieldValidation on every PATCH', async (t) => {
  const api = buildOpenApi(allStrategies);
  const root = api.root as { paths: Record<string, { serverRelativeURL: string }> };
  t.match(root.paths['apis/apps/v1']!.serverRelativeURL, /^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]+$/);
  const doc = JSON.parse(api.docs.get('apis/apps/v1')!);
  const op = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
  t.same(op['x-kubernetes-group-version-kind'], { group: 'apps', version: 'v1', kind: 'Deployment' });
  t.ok(op.parameters.some((p: { name: string }) => p.name === 'fieldValidation'));
});

t.test('tables', async (t) => {
  t.ok(wantsTable('application/json;as=Table;v=v1;g=meta.k8s.io,application/json'));
  t.notOk(wantsTable('application/json'));
  const pod = {
    metadata: { name: 'p', creationTimestamp: new Date(Date.now() - 90_000).toISOString(), labels: { a: 'b' } },
    spec: { containers: [{ name: 'a' }, { name: 'b' }], nodeName: 'n1' },
    status: { phase: 'Running', podIP: '10.0.0.5', containerStatuses: [{ ready: true, restartCount: 2, state: { running: {} } }, { ready: false, restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } } }] },
  };
  const table = toTable(pods, [pod], 'Metadata', { resourceVersion: '5' });
  t.same(table.columnDefinitions.map((c) => c.name), ['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP', 'Node', 'Nominated Node', 'Readiness Gates']);
  t.same(table.rows[0]!.cells, ['p', '1/2', 'CrashLoopBackOff', 3, '90s', '10.0.0.5', 'n1', '<none>', '<none>']);
  t.same(table.rows[0]!.object, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: pod.metadata });
  t.equal(podStatusReason({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: 'x' } }), 'Terminating');
  t.equal(humanDuration(3 * 86400_000 + 4 * 3600_000), '3d4h');
  t.equal(humanDuration(5 * 60_000), '5m');
});

t.test('defaults', async (t) => {
  t.equal(defaultPullPolicy('nginx'), 'Always');
  t.equal(defaultPullPolicy('nginx:latest'), 'Always');
  t.equal(defaultPullPolicy('nginx:1.25'), 'IfNotPresent');
  t.equal(defaultPullPolicy('registry:5000/nginx'), 'Always', 'a registry port is not a tag');
  t.equal(defaultPullPolicy('nginx@sha256:abc'), 'IfNotPresent');
});

t.test('body decoding limits', async (t) => {
  const status = async (ct: string, body: string) => {
    try { await decodeBody(ct, Buffer.from(body)); return 200; } catch (e) { return e instanceof ApiError ? e.code : 500; }
  };
  t.equal(await status('application/json', '{"a":'), 400);
  t.equal(await status('application/json', '['.repeat(5000) + ']'.repeat(5000)), 400, 'deep nesting refused before parsing');
  t.equal(await status('application/yaml', 'a: 1\n---\nb: 2\n'), 400, 'one YAML document only');
  t.equal(await status('application/yaml', 'a: &x [1]\nb: *x\n'), 200, 'aliases are fine within limits');
  t.equal(await status('application/yaml', 'a: &x [*x]\n'), 400, 'a self-referencing alias is refused');
  t.equal(await status('text/plain', 'x'), 415);
  t.equal(await status('application/json', ''), 400);
  t.same(parseJson(Buffer.from('{"a":"[[[["}')), { a: '[[[[' }, 'brackets inside strings do not count');
});

t.test('typed decoding: wrong types and unknown fields', async (t) => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [{ name: 'a', image: 'i', resources: { limits: { cpu: 1 } } }], bogus: 1 }, extra: true };
  const probs = checkDecode(pod, 'V1Pod', 'Pod');
  t.same(probs.unknown.sort(), ['extra', 'spec.bogus']);
  t.equal(probs.typeError, undefined, 'numeric quantities are accepted');
  t.notOk('bogus' in pod.spec, 'unknown fields are pruned');
  const wrong = checkDecode({ spec: { containers: [{ name: 5 }] } }, 'V1Pod', 'Pod');
  t.match(wrong.typeError, /cannot unmarshal number into Go struct field Pod.spec.containers.name of type string/);
});
