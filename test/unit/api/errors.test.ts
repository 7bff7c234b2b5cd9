import t from 'tap';
import { ApiError, cause, errors, toStatus } from '../../../api/errors.ts';

t.test('NotFound names the qualified resource and maps to 404', async (t) => {
  const s = toStatus(errors.notFound('deployments', 'web', 'apps'));
  t.equal(s.code, 404);
  t.equal(s.reason, 'NotFound');
  t.equal(s.message, 'deployments.apps "web" not found');
  t.same(s.details, { name: 'web', group: 'apps', kind: 'deployments' });
});

t.test('Invalid carries one cause per field and a 422', async (t) => {
  const s = toStatus(errors.invalid('Pod', 'p', [cause.required('spec.containers'), cause.duplicate('spec.containers[1].name', 'a')]));
  t.equal(s.code, 422);
  t.equal(s.details?.causes?.length, 2);
  t.match(s.message, /^Pod "p" is invalid: spec.containers: Required value, spec.containers\[1\].name: Duplicate value: "a"$/);
});

t.test('unknown errors become InternalError', async (t) => {
  const s = toStatus(new TypeError('boom'));
  t.equal(s.code, 500);
  t.equal(s.reason, 'InternalError');
  t.ok(errors.conflict('pods', 'x', 'y') instanceof ApiError);
});
