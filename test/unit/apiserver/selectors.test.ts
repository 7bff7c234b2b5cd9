// Label and field selector parsing and matching.
import t from 'tap';
import { ApiError } from '../../../api/errors.ts';
import { labelSelectorFromObject, parseFieldSelector, parseLabelSelector } from '../../../api/selectors.ts';

function code(fn: () => unknown): number {
  try { fn(); return 0; } catch (e) { return e instanceof ApiError ? e.code : -1; }
}

t.test('label selectors: every operator', async (t) => {
  const s = parseLabelSelector('app=web, tier!=db,env in (prod, staging),!legacy,zone notin (a),release,v>2');
  const base = { app: 'web', tier: 'front', env: 'prod', zone: 'b', release: '1', v: '3' };
  t.ok(s.matches(base));
  t.notOk(s.matches({ ...base, app: 'api' }), '=');
  t.notOk(s.matches({ ...base, tier: 'db' }), '!=');
  t.notOk(s.matches({ ...base, env: 'dev' }), 'in');
  t.notOk(s.matches({ ...base, legacy: 'yes' }), '!key');
  t.notOk(s.matches({ ...base, zone: 'a' }), 'notin');
  const { release: _r, ...noRelease } = base;
  t.notOk(s.matches(noRelease), 'exists');
  t.notOk(s.matches({ ...base, v: '1' }), '>');
  t.ok(parseLabelSelector('a==b').matches({ a: 'b' }), '== is =');
  t.ok(parseLabelSelector('').empty);
  t.equal(parseLabelSelector('a=b,c in (x,y)').toString(), 'a=b,c in (x,y)');
});

t.test('label selectors: bad input is a 400 naming the problem', async (t) => {
  for (const bad of ['a in (', 'a=b=c', '=x', 'bad key=1', 'a=' + 'x'.repeat(64), ',', 'a in (b))']) {
    t.equal(code(() => parseLabelSelector(bad)), 400, bad);
  }
  try { parseLabelSelector('Bad Key=1'); } catch (e) { t.match((e as Error).message, /Bad Key=1/); }
});

t.test('LabelSelector objects', async (t) => {
  const s = labelSelectorFromObject({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }, { key: 'x', operator: 'DoesNotExist' }] });
  t.ok(s.matches({ app: 'web', tier: 'a' }));
  t.notOk(s.matches({ app: 'web', tier: 'c' }));
  t.notOk(s.matches({ app: 'web', tier: 'a', x: '1' }));
  t.equal(s.toString(), 'app=web,tier in (a,b),!x');
  t.equal(code(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Near' }] })), 400);
});

t.test('field selectors', async (t) => {
  const s = parseFieldSelector('spec.nodeName=n1,status.phase!=Succeeded,status.phase!=Failed');
  t.ok(s.matches({ 'spec.nodeName': 'n1', 'status.phase': 'Running' }));
  t.notOk(s.matches({ 'spec.nodeName': 'n1', 'status.phase': 'Failed' }));
  t.notOk(s.matches({ 'spec.nodeName': 'n2', 'status.phase': 'Running' }));
  t.equal(parseFieldSelector('metadata.name==x').exact('metadata.name'), 'x');
  t.ok(parseFieldSelector('involvedObject.namespace=').matches({ 'involvedObject.namespace': '' }), 'empty value');
  t.equal(parseFieldSelector('a=x\\,y').requirements[0]!.value, 'x,y', 'escaped comma');
  t.equal(code(() => parseFieldSelector('metadata.name')), 400);
});
