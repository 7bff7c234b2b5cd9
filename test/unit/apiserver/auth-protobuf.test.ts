// The review kinds added to the protobuf schema decode to their JSON shapes (field numbers from upstream
// authentication/v1 and authorization/v1 generated.proto); ExtraValue maps become string lists.
import protobuf from 'protobufjs';
import t from 'tap';
import { decodeProtobufBody } from '../../../control/apiserver/protobuf/index.ts';
import { PROTO } from '../../../control/apiserver/protobuf/schema.ts';

const root = protobuf.parse(PROTO, { keepCase: true }).root;
function body(apiVersion: string, kind: string, obj: Record<string, unknown>): Buffer {
  const type = root.lookupType(`k8s.${kind}`);
  const raw = type.encode(type.fromObject(obj)).finish();
  const Unknown = root.lookupType('k8s.Unknown');
  return Buffer.concat([Buffer.from('k8s\0', 'latin1'), Unknown.encode(Unknown.fromObject({ typeMeta: { apiVersion, kind }, raw })).finish()]);
}

t.test('SubjectAccessReview with user, groups, uid and extra', async (t) => {
  const decoded = decodeProtobufBody(body('authorization.k8s.io/v1', 'SubjectAccessReview', {
    spec: { user: 'bob', groups: ['ops', 'dev'], uid: 'u-1', extra: { scopes: { items: ['a', 'b'] } }, resourceAttributes: { namespace: 'ns', verb: 'get', resource: 'pods' } },
  }));
  t.same(decoded, {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
    spec: { user: 'bob', groups: ['ops', 'dev'], uid: 'u-1', extra: { scopes: ['a', 'b'] }, resourceAttributes: { namespace: 'ns', verb: 'get', resource: 'pods' } },
  });
});

t.test('SelfSubjectRulesReview, SelfSubjectReview, TokenReview, LocalSubjectAccessReview', async (t) => {
  t.same(decodeProtobufBody(body('authorization.k8s.io/v1', 'SelfSubjectRulesReview', { metadata: {}, spec: { namespace: 'default' } })),
    { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', metadata: {}, spec: { namespace: 'default' } });
  t.same(decodeProtobufBody(body('authentication.k8s.io/v1', 'SelfSubjectReview', { metadata: {} })),
    { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview', metadata: {} });
  t.same(decodeProtobufBody(body('authentication.k8s.io/v1', 'TokenReview', { spec: { token: 'abc', audiences: ['api'] } })),
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'abc', audiences: ['api'] } });
  t.same(decodeProtobufBody(body('authorization.k8s.io/v1', 'LocalSubjectAccessReview', { metadata: { namespace: 'dev' }, spec: { groups: ['g'], resourceAttributes: { verb: 'list', resource: 'secrets' } } })),
    { apiVersion: 'authorization.k8s.io/v1', kind: 'LocalSubjectAccessReview', metadata: { namespace: 'dev' }, spec: { groups: ['g'], resourceAttributes: { verb: 'list', resource: 'secrets' } } });
});
