import t from 'tap';
import { applyPatch, recordUpdateManager } from '../../../control/apiserver/patch/index.ts';
import { ApiError } from '../../../api/errors.ts';

const gvk = { group: 'apps', version: 'v1', kind: 'Deployment' };
const apply = (current: object | undefined, config: unknown, fieldManager = 'kubectl', force = false) =>
  applyPatch('application/apply-patch+yaml', current, Buffer.from(typeof config === 'string' ? config : JSON.stringify(config)),
    { gvk, fieldManager, force }) as any;

const config = (replicas: number, extra: { labels?: Record<string, string>; containers?: object[] } = {}) => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', labels: extra.labels ?? { app: 'web' } },
  spec: {
    replicas, selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: extra.containers ?? [{ name: 'web', image: 'nginx:1' }] } },
  },
});
const entry = (obj: any, manager: string, operation = 'Apply') =>
  obj.metadata.managedFields?.find((e: any) => e.manager === manager && e.operation === operation);

t.test('apply creates the object and records the Apply manager in FieldsV1 notation', async (t) => {
  const obj = apply(undefined, config(2));
  t.equal(obj.spec.replicas, 2);
  t.equal(obj.metadata.managedFields.length, 1);
  const e = obj.metadata.managedFields[0];
  t.match(e, { manager: 'kubectl', operation: 'Apply', apiVersion: 'apps/v1', fieldsType: 'FieldsV1' });
  t.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.same(e.fieldsV1, {
    'f:metadata': { 'f:labels': { 'f:app': {} } },
    'f:spec': {
      'f:replicas': {}, 'f:selector': {}, // LabelSelector is an atomic struct
      'f:template': {
        'f:metadata': { 'f:labels': { 'f:app': {} } },
        'f:spec': { 'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:image': {}, 'f:name': {} } } },
      },
    },
  });
});

t.test('YAML bodies work like JSON', async (t) => {
  const obj = apply(undefined, 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n');
  t.equal(obj.spec.replicas, 4);
});

t.test('re-applying by the same manager changes and removes its own fields', async (t) => {
  const first = apply(undefined, config(2, { labels: { app: 'web', tier: 'fe' }, containers: [{ name: 'web', image: 'nginx:1' }, { name: 'side', image: 'busybox' }] }));
  const second = apply(first, config(3));
  t.equal(second.spec.replicas, 3);
  t.same(second.metadata.labels, { app: 'web' }, 'label no longer applied is removed');
  t.same(second.spec.template.spec.containers.map((c: any) => c.name), ['web'], 'container no longer applied is removed');
  t.equal(second.metadata.managedFields.length, 1);
});

t.test('a field another manager set is a conflict, unless the value is the same or force is given', async (t) => {
  const created = apply(undefined, config(2));
  // someone scales with a merge patch: the apiserver records them as an Update manager
  const scaled = recordUpdateManager(created, { ...created, spec: { ...created.spec, replicas: 5 } }, 'mgr', gvk) as any;
  t.match(entry(scaled, 'mgr', 'Update'), { apiVersion: 'apps/v1', fieldsV1: { 'f:spec': { 'f:replicas': {} } } });
  t.notOk(entry(scaled, 'kubectl').fieldsV1['f:spec']['f:replicas'], 'the applier lost replicas to the updater');

  const err = (() => { try { apply(scaled, config(3)); } catch (e) { return e; } })() as ApiError;
  t.ok(err instanceof ApiError);
  t.equal(err.code, 409);
  t.equal(err.reason, 'Conflict');
  t.same(err.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "mgr" using apps/v1', field: '.spec.replicas' }]);
  t.equal(err.message, 'Apply failed with 1 conflict: conflict with "mgr" using apps/v1: .spec.replicas');

  const same = apply(scaled, config(5));
  t.equal(same.spec.replicas, 5, 'applying the same value shares ownership');
  t.ok(entry(same, 'mgr', 'Update').fieldsV1['f:spec']['f:replicas']);
  t.ok(entry(same, 'kubectl').fieldsV1['f:spec']['f:replicas']);

  const forced = apply(scaled, config(3), 'kubectl', true);
  t.equal(forced.spec.replicas, 3);
  t.notOk(entry(forced, 'mgr', 'Update'), 'the updater owned nothing else, so its entry goes');
});

t.test('conflicts between two appliers name the manager without apiVersion', async (t) => {
  const a = apply(undefined, config(2), 'team-a');
  t.throws(() => apply(a, config(7), 'team-b'), {
    code: 409, causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "team-a"', field: '.spec.replicas' }],
  });
  const err = (() => { try { apply(a, config(7, { containers: [{ name: 'web', image: 'nginx:2' }] }), 'team-b'); } catch (e) { return e; } })() as ApiError;
  t.same(err.causes.map((c) => c.field).sort(), ['.spec.replicas', '.spec.template.spec.containers[name="web"].image']);
  t.match(err.message, /^Apply failed with 2 conflicts: conflicts with "team-a":\n- /);
});

t.test('fields owned by another manager survive when the applier drops them', async (t) => {
  const first = apply(undefined, config(2, { labels: { app: 'web', tier: 'fe' } }));
  const labelled = recordUpdateManager(first, { ...first, metadata: { ...first.metadata, labels: { app: 'web', tier: 'fe', team: 'x' } } }, 'labeler', gvk) as any;
  const shared = recordUpdateManager(labelled, labelled, 'noop', gvk) as any;
  t.notOk(entry(shared, 'noop', 'Update'), 'an update that changes nothing records no manager');
  const second = apply(shared, config(2));
  t.same(second.metadata.labels, { app: 'web', team: 'x' }, 'tier (only the applier owned it) goes, team stays');
});

t.test('keyed lists merge by key and set lists by value', async (t) => {
  const first = apply(undefined, config(1, { containers: [{ name: 'web', image: 'nginx:1', ports: [{ containerPort: 80 }] }] }));
  const other = recordUpdateManager(first, {
    ...first,
    metadata: { ...first.metadata, finalizers: ['example.com/keep'] },
    spec: { ...first.spec, template: { ...first.spec.template, spec: { containers: [...first.spec.template.spec.containers, { name: 'injected', image: 'proxy' }] } } },
  }, 'injector', gvk) as any;
  const again = apply(other, config(1, { containers: [{ name: 'web', image: 'nginx:2', ports: [{ containerPort: 80 }] }] }));
  t.same(again.spec.template.spec.containers.map((c: any) => [c.name, c.image]), [['web', 'nginx:2'], ['injected', 'proxy']]);
  t.same(again.metadata.finalizers, ['example.com/keep']);
  t.ok(entry(again, 'injector', 'Update').fieldsV1['f:metadata']['f:finalizers']['v:"example.com/keep"']);
});

t.test('bad apply requests', async (t) => {
  t.throws(() => apply(undefined, config(1), ''), { reason: 'BadRequest', code: 400, message: /fieldManager is required/ });
  t.throws(() => apply(undefined, 'a: [b'), { reason: 'BadRequest', code: 400, message: /YAML/ });
  t.throws(() => apply(undefined, '- 1\n- 2\n'), { reason: 'BadRequest', code: 400 });
  t.throws(() => apply(undefined, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } }), { reason: 'BadRequest', code: 400, message: /Kind=Pod/ });
  t.throws(() => apply(undefined, { metadata: { name: 'x' } }), { reason: 'BadRequest', code: 400, message: /missing/ });
  t.throws(() => apply(undefined, { ...config(1), metadata: { name: 'web', managedFields: [] } }), { reason: 'BadRequest', code: 400, message: /managedFields must be nil/ });
  t.throws(() => applyPatch('application/merge-patch+json', config(1), Buffer.from('{}'), { gvk, force: true }), { reason: 'BadRequest', code: 400 });
});

t.test('recordUpdateManager on create, on explicit managedFields and on reset', async (t) => {
  const created = recordUpdateManager(undefined, config(1), 'kubectl-create', gvk) as any;
  t.match(created.metadata.managedFields, [{ manager: 'kubectl-create', operation: 'Update', apiVersion: 'apps/v1', fieldsType: 'FieldsV1' }]);
  t.ok(created.metadata.managedFields[0].fieldsV1['f:spec']['f:replicas']);
  const reset = recordUpdateManager(created, { ...created, metadata: { ...created.metadata, managedFields: [] } }, 'x', gvk) as any;
  t.notOk(reset.metadata.managedFields, 'an empty list clears managedFields');
  const status = recordUpdateManager(created, { ...created, status: { replicas: 1 } }, 'kube-controller-manager', gvk, 'status') as any;
  t.match(entry(status, 'kube-controller-manager', 'Update'), { subresource: 'status', fieldsV1: { 'f:status': { 'f:replicas': {} } } });
});

t.test('ports are keyed by port and protocol (protocol defaults to TCP), so DNS on 53/UDP and 53/TCP stay apart', async (t) => {
  const svc = { group: '', version: 'v1', kind: 'Service' };
  const body = (ports: object[]) => Buffer.from(JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'dns' }, spec: { ports } }));
  const created = applyPatch('application/apply-patch+yaml', undefined,
    body([{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }]), { gvk: svc, fieldManager: 'm' }) as any;
  t.same(created.spec.ports, [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }]);
  t.same(Object.keys(created.metadata.managedFields[0].fieldsV1['f:spec']['f:ports']).sort(),
    ['k:{"port":53,"protocol":"TCP"}', 'k:{"port":53,"protocol":"UDP"}']);
  const updated = applyPatch('application/apply-patch+yaml', { ...created, spec: { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] } },
    body([{ name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5353 }]), { gvk: svc, fieldManager: 'm' }) as any;
  t.same(updated.spec.ports, [{ name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5353 }], 'the UDP port the manager dropped is removed; TCP matched with its default');
});

t.test('the selector is replaced whole and the default manager comes from the User-Agent', async (t) => {
  const created = apply(undefined, { ...config(1), spec: { ...config(1).spec, selector: { matchLabels: { app: 'web', tier: 'fe' } } } });
  const next = apply(created, config(1));
  t.same(next.spec.selector, { matchLabels: { app: 'web' } });
  const { managerFromUserAgent } = await import('../../../control/apiserver/patch/index.ts');
  t.equal(managerFromUserAgent('kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd'), 'kubectl');
  t.equal(managerFromUserAgent(undefined), 'unknown');
});

t.test('an object without managedFields is owned by "before-first-apply"', async (t) => {
  const untracked = { ...config(2) };
  t.throws(() => apply(untracked, config(4)), {
    code: 409, causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "before-first-apply" using apps/v1', field: '.spec.replicas' }],
  });
  const same = apply(untracked, config(2));
  t.same(same.metadata.managedFields.map((e: any) => [e.manager, e.operation]), [['before-first-apply', 'Update'], ['kubectl', 'Apply']]);
});
