import t from 'tap';
import {
  isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidLabelValue, isValidPathSegmentName,
  validateLabels, validateAnnotations, validateObjectMeta, nameIsDNSLabel, validateResourceRequirements, validateFinalizers,
} from '../../../api/validation.ts';
import { errors } from '../../../api/errors.ts';

t.test('DNS-1123 labels and subdomains', async (t) => {
  for (const ok of ['a', 'web', 'my-name', '123-abc', 'a'.repeat(63)]) t.same(isDNS1123Label(ok), [], ok);
  for (const bad of ['', 'Web', '-a', 'a-', 'a.b', 'a_b', 'a'.repeat(64)]) t.ok(isDNS1123Label(bad).length, bad);
  t.same(isDNS1123Label('Web'), ["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]);
  t.same(isDNS1123Label('a'.repeat(64)), ['must be no more than 63 characters']);
  for (const ok of ['example.com', 'a.b-c.d', 'x']) t.same(isDNS1123Subdomain(ok), [], ok);
  for (const bad of ['Example.com', 'a..b', '.a', 'a.', 'a'.repeat(254)]) t.ok(isDNS1123Subdomain(bad).length, bad);
  t.match(isDNS1123Subdomain('A')[0], /^a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \(e.g. 'example.com', regex used/);
});

t.test('qualified names and label values', async (t) => {
  for (const ok of ['app', 'MyName', 'my.name', 'app.kubernetes.io/name', 'kubernetes.io/os', 'a_b']) t.same(isQualifiedName(ok), [], ok);
  t.same(isQualifiedName('/a'), ['prefix part must be non-empty']);
  t.same(isQualifiedName('a/'), ['name part must be non-empty', isQualifiedName('-')[0]]);
  t.match(isQualifiedName('a/b/c')[0], /with an optional DNS subdomain prefix and '\/'/);
  t.match(isQualifiedName('Bad_/x')[0], /^prefix part a lowercase RFC 1123 subdomain/);
  t.same(isQualifiedName('a'.repeat(64)).slice(0, 1), ['name part must be no more than 63 characters']);
  for (const ok of ['', 'v1', 'my_value', '12345', 'A.b-C']) t.same(isValidLabelValue(ok), [], ok);
  for (const bad of ['-a', 'a b', 'a/b', 'x'.repeat(64)]) t.ok(isValidLabelValue(bad).length, bad);
  t.same(isValidPathSegmentName('..'), ["may not be '..'"]);
  t.same(isValidPathSegmentName('a/b%'), ["may not contain '/'", "may not contain '%'"]);
});

t.test('label and annotation maps give causes with the field', async (t) => {
  const causes = validateLabels({ good: 'yes', 'bad key!': 'v', k: 'bad value!' });
  t.equal(causes.length, 2);
  t.same(causes.map((c) => c.field), ['metadata.labels', 'metadata.labels']);
  t.match(causes[0].message, /^Invalid value: "bad key!": name part must consist of/);
  t.match(causes[1].message, /^Invalid value: "bad value!": a valid label must be an empty string/);
  t.same(validateLabels({ n: 5 }).map((c) => c.reason), ['FieldValueInvalid']);
  t.same(validateAnnotations({ 'Example.com/Some-Key': 'x'.repeat(1000) }), [], 'keys are lower-cased before checking');
  const big = validateAnnotations({ a: 'x'.repeat(256 * 1024) });
  t.same(big, [{ reason: 'FieldValueTooLong', field: 'metadata.annotations', message: 'Too long: may not be more than 262144 bytes' }]);
});

t.test('object meta', async (t) => {
  t.same(validateObjectMeta({ name: 'web', namespace: 'default' }, { namespaced: true }), []);
  t.same(validateObjectMeta({ generateName: 'web-', namespace: 'default' }, { namespaced: true }), []);
  const missing = validateObjectMeta({ namespace: 'default' }, { namespaced: true });
  t.same(missing, [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
  const bad = validateObjectMeta({ name: 'Web_1' }, { namespaced: true });
  t.same(bad.map((c) => c.field), ['metadata.name', 'metadata.namespace']);
  const err = errors.invalid('Pod', 'Web_1', bad);
  t.match(err.message, /^Pod "Web_1" is invalid: metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain/);
  t.same(validateObjectMeta({ name: 'n', namespace: 'x' }, { namespaced: false }).map((c) => c.reason), ['FieldValueForbidden']);
  t.same(validateObjectMeta({ name: 'a.b' }, { namespaced: false, validateName: nameIsDNSLabel }).map((c) => c.field), ['metadata.name']);
  t.same(validateObjectMeta('x', { namespaced: false }).map((c) => c.field), ['metadata']);
});

t.test('container resources', async (t) => {
  const f = 'spec.containers[0].resources';
  t.same(validateResourceRequirements({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m', memory: 1073741824 } }, f), []);
  t.same(validateResourceRequirements(undefined, f), []);
  t.same(validateResourceRequirements({ requests: { cpu: '2' }, limits: { cpu: '1' } }, f),
    [{ reason: 'FieldValueInvalid', field: `${f}.requests`, message: 'Invalid value: "2": must be less than or equal to cpu limit of 1' }]);
  t.same(validateResourceRequirements({ limits: { memory: 'lots' } }, f).map((c) => [c.field, c.message.slice(0, 40)]),
    [[`${f}.limits[memory]`, 'Invalid value: "lots": quantities must m']]);
  t.same(validateResourceRequirements({ requests: { cpu: '-1' } }, f).map((c) => c.message), ['Invalid value: "-1": must be greater than or equal to 0']);
  t.same(validateResourceRequirements({ limits: { gpu: '1' } }, f).map((c) => c.message), ['Invalid value: "gpu": must be a standard resource for containers']);
  t.same(validateResourceRequirements({ limits: { 'example.com/gpu': '1' }, requests: { 'example.com/gpu': '1' } }, f), []);
  t.same(validateResourceRequirements({ limits: { 'example.com/gpu': '500m' } }, f).map((c) => c.message), ['Invalid value: "500m": must be an integer']);
  t.same(validateResourceRequirements({ requests: { 'example.com/gpu': '1' } }, f).map((c) => [c.field, c.reason]), [[`${f}.limits`, 'FieldValueRequired']]);
  t.same(validateResourceRequirements({ limits: { 'hugepages-2Mi': '4Mi' }, requests: { 'hugepages-2Mi': '2Mi' } }, f).map((c) => c.message),
    ['Invalid value: "2Mi": must be equal to hugepages-2Mi limit of 4Mi']);
  t.same(validateResourceRequirements({ limits: [] }, f).map((c) => c.field), [`${f}.limits`]);
});

t.test('finalizers', async (t) => {
  t.same(validateFinalizers(['kubernetes', 'example.com/cleanup', 'foregroundDeletion']), []);
  t.same(validateFinalizers(['cleanup']).map((c) => c.message), ['Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified']);
  t.match(validateFinalizers(['bad name/x'])[0].message, /prefix part a lowercase RFC 1123 subdomain/);
  t.same(validateFinalizers(['orphan', 'foregroundDeletion']).map((c) => c.message.split(': ').pop()), ['finalizer orphan and foregroundDeletion cannot be both set']);
});
