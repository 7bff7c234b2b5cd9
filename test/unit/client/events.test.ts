import t from 'tap';
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { RestClient } from '../../../client/rest.ts';
import { EventRecorder, referenceTo } from '../../../client/events.ts';
import { FakeApiServer } from './fixtures/fake-apiserver.ts';

const thePod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'ns', uid: 'u1', resourceVersion: '7' } };

async function setup(t: { teardown(fn: () => unknown): void }, burst = 25) {
  const api = new FakeApiServer();
  const server = await api.start();
  const client = new RestClient({ server, qps: 0 });
  const errors: unknown[] = [];
  const rec = new EventRecorder(client, { component: 'default-scheduler', host: 'node-1', burst, onError: (e) => errors.push(e) });
  t.teardown(async () => {
    client.close();
    await api.close();
  });
  const events = async () => (await client.list<CoreV1Event>({ version: 'v1', resource: 'events', namespace: 'ns' })).items;
  return { api, rec, errors, events };
}

t.test('an event names its object, source, type, reason and message', async (t) => {
  const { rec, errors, events } = await setup(t);
  rec.event(thePod, 'Warning', 'FailedScheduling', '0/3 nodes are available');
  await rec.flush();
  const [ev, ...rest] = await events();
  t.same(rest, []);
  t.same(ev!.involvedObject, { kind: 'Pod', apiVersion: 'v1', name: 'web-1', namespace: 'ns', uid: 'u1', resourceVersion: '7' });
  t.equal(ev!.type, 'Warning');
  t.equal(ev!.reason, 'FailedScheduling');
  t.equal(ev!.message, '0/3 nodes are available');
  t.same(ev!.source, { component: 'default-scheduler', host: 'node-1' });
  t.equal(ev!.count, 1);
  t.match(ev!.metadata?.name, /^web-1\.[0-9a-f]+$/);
  t.same(errors, []);
});

t.test('a repeat within the window bumps count on the same Event; a different message is a new Event', async (t) => {
  const { api, rec, events } = await setup(t);
  rec.event(thePod, 'Normal', 'Pulled', 'image pulled');
  rec.event(thePod, 'Normal', 'Pulled', 'image pulled');
  rec.event(thePod, 'Normal', 'Pulled', 'image pulled');
  rec.event(thePod, 'Normal', 'Started', 'container started');
  await rec.flush();
  const evs = await events();
  t.equal(evs.length, 2);
  t.equal(evs.find((e) => e.reason === 'Pulled')!.count, 3);
  t.equal(evs.find((e) => e.reason === 'Started')!.count, 1);
  t.equal(api.requests.filter((r) => r.method === 'PATCH').length, 2, 'repeats are patches');
});

t.test('a flood about one object is cut off at the burst; errors are reported, not thrown', async (t) => {
  const { rec, errors, events } = await setup(t, 2);
  for (let i = 0; i < 10; i++) rec.event(thePod, 'Normal', 'Tick', `tick ${i}`);
  rec.event({ kind: 'Pod', metadata: {} }, 'Normal', 'X', 'no name');
  await rec.flush();
  t.equal((await events()).length, 2);
  t.equal(errors.length, 1);
  t.match((errors[0] as Error).message, /no metadata.name/);
  t.throws(() => referenceTo({ metadata: {} }), /no metadata.name/);
});

t.test('a fieldPath names the part of the object, and the same message about another part is another Event', async (t) => {
  const { rec, events } = await setup(t);
  rec.event(thePod, 'Normal', 'Pulled', 'image pulled', 'spec.containers{web}');
  rec.event(thePod, 'Normal', 'Pulled', 'image pulled', 'spec.containers{web}');
  rec.event(thePod, 'Normal', 'Pulled', 'image pulled', 'spec.containers{sidecar}');
  await rec.flush();
  const evs = await events();
  t.same(evs.map((e) => [e.involvedObject.fieldPath, e.count]).sort(), [['spec.containers{sidecar}', 1], ['spec.containers{web}', 2]]);
});

t.test('any EventSink can take the events (a component with its own API seam)', async (t) => {
  const created: Array<[string, CoreV1Event]> = [];
  const patched: Array<[string, string, unknown]> = [];
  const rec = new EventRecorder({
    create: async (ns, ev) => { created.push([ns, ev]); },
    patch: async (ns, name, p) => { patched.push([ns, name, p]); },
  }, { component: 'kubelet', host: 'n1' });
  rec.event(thePod, 'Warning', 'BackOff', 'Back-off restarting failed container');
  rec.event(thePod, 'Warning', 'BackOff', 'Back-off restarting failed container');
  await rec.flush();
  t.equal(created.length, 1);
  t.equal(created[0]![0], 'ns');
  t.same(created[0]![1].source, { component: 'kubelet', host: 'n1' });
  t.equal(patched.length, 1);
  t.same(patched[0]!.slice(0, 2), ['ns', created[0]![1].metadata!.name]);
  t.match(patched[0]![2], { count: 2 });
});
