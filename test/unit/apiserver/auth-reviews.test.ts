// The review resources against a recording authorizer: what they ask it, how its answer is reported, and the
// validation upstream applies to each spec.
import t from 'tap';
import { ApiError } from '../../../api/errors.ts';
import type { Attributes, Authorizer } from '../../../control/apiserver/auth/authorizer.ts';
import { allowAll } from '../../../control/apiserver/auth/authorizer.ts';
import type { UserInfo } from '../../../control/apiserver/auth/authenticator.ts';
import { localsubjectaccessreviews } from '../../../control/apiserver/registry/localsubjectaccessreviews.ts';
import { selfsubjectaccessreviews } from '../../../control/apiserver/registry/selfsubjectaccessreviews.ts';
import { selfsubjectreviews } from '../../../control/apiserver/registry/selfsubjectreviews.ts';
import { selfsubjectrulesreviews } from '../../../control/apiserver/registry/selfsubjectrulesreviews.ts';
import { subjectaccessreviews } from '../../../control/apiserver/registry/subjectaccessreviews.ts';
import { tokenreviews } from '../../../control/apiserver/registry/tokenreviews.ts';

const alice: UserInfo = { name: 'alice', uid: 'u-1', groups: ['dev', 'system:authenticated'], extra: { scopes: ['a'] } };

/** Allows only get on pods in namespace "dev" and GET /healthz; denies outright deletes; remembers what it was asked. */
function recordingAuthorizer(): Authorizer & { asked: Attributes[] } {
  const asked: Attributes[] = [];
  return {
    asked,
    authorize(a) {
      asked.push(a);
      if (a.verb === 'delete') return { allowed: false, denied: true, reason: 'deletes are never allowed' };
      if (a.resourceRequest && a.verb === 'get' && a.resource === 'pods' && a.namespace === 'dev') return { allowed: true, reason: 'dev may read pods' };
      if (!a.resourceRequest && a.path === '/healthz') return { allowed: true };
      return { allowed: false };
    },
  };
}

async function failure(p: unknown): Promise<ApiError> {
  try { await p; } catch (e) { if (e instanceof ApiError) return e; throw e; }
  throw new Error('expected an ApiError');
}

t.test('SelfSubjectAccessReview asks about the requesting user and reports the decision', async (t) => {
  const authorizer = recordingAuthorizer();
  const ctx = { user: alice, authorizer };
  const spec = { resourceAttributes: { namespace: 'dev', verb: 'get', group: '', resource: 'pods', name: 'web' } };
  const yes = await selfsubjectaccessreviews.create({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec }, ctx);
  t.same(yes, { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status: { allowed: true, reason: 'dev may read pods' } });
  t.same(authorizer.asked[0], { user: alice, verb: 'get', resourceRequest: true, apiGroup: '', apiVersion: '', namespace: 'dev', resource: 'pods', subresource: '', name: 'web', path: '' });
  const no = await selfsubjectaccessreviews.create({ spec: { resourceAttributes: { namespace: 'prod', verb: 'get', resource: 'pods' } } }, ctx);
  t.same(no.status, { allowed: false }, 'no opinion: not allowed, not denied');
  const denied = await selfsubjectaccessreviews.create({ spec: { resourceAttributes: { verb: 'delete', resource: 'pods' } } }, ctx);
  t.same(denied.status, { allowed: false, denied: true, reason: 'deletes are never allowed' });
  const path = await selfsubjectaccessreviews.create({ spec: { nonResourceAttributes: { path: '/healthz', verb: 'get' } } }, ctx);
  t.same(path.status, { allowed: true });
  t.equal(authorizer.asked.at(-1)!.path, '/healthz');
  t.equal(authorizer.asked.at(-1)!.resourceRequest, false);
  const throwing: Authorizer = { authorize: () => { throw new Error('backend down'); } };
  t.same((await selfsubjectaccessreviews.create({ spec }, { user: alice, authorizer: throwing })).status, { allowed: false, evaluationError: 'backend down' });
});

t.test('access review specs are validated as upstream does', async (t) => {
  const ctx = { user: alice, authorizer: allowAll };
  const none = await failure(selfsubjectaccessreviews.create({ spec: {} }, ctx));
  t.equal(none.code, 422);
  t.match(none.message, 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified');
  const both = await failure(selfsubjectaccessreviews.create({ spec: { resourceAttributes: {}, nonResourceAttributes: {} } }, ctx));
  t.match(both.message, 'spec.nonResourceAttributes: Invalid value: {}: cannot be specified in combination with resourceAttributes');
  const wrongKind = await failure(selfsubjectaccessreviews.create({ kind: 'Pod', spec: {} }, ctx));
  t.equal(wrongKind.code, 400);
  const badType = await failure(selfsubjectaccessreviews.create({ spec: { resourceAttributes: { verb: 5 } } }, ctx));
  t.equal(badType.code, 400);
  t.match(badType.message, 'cannot be handled as a SelfSubjectAccessReview');
  const noSubject = await failure(subjectaccessreviews.create({ spec: { resourceAttributes: { verb: 'get' } } }, ctx));
  t.match(noSubject.message, 'spec.user: Invalid value: "": at least one of user or group must be specified');
});

t.test('SubjectAccessReview and LocalSubjectAccessReview ask about the named subject', async (t) => {
  const authorizer = recordingAuthorizer();
  const sar = await subjectaccessreviews.create({ spec: { user: 'bob', groups: ['ops'], uid: 'u-2', resourceAttributes: { namespace: 'dev', verb: 'get', resource: 'pods' } } }, { user: alice, authorizer });
  t.same(sar.status, { allowed: true, reason: 'dev may read pods' });
  t.same(authorizer.asked[0]!.user, { name: 'bob', groups: ['ops'], uid: 'u-2' }, 'exactly the spec subject, nothing added');
  const local = await localsubjectaccessreviews.create({ spec: { user: 'bob', resourceAttributes: { verb: 'get', resource: 'pods' } } }, { user: alice, authorizer, namespace: 'dev' });
  t.equal(authorizer.asked[1]!.namespace, 'dev', 'the namespace defaults to the URL one');
  t.equal(local.metadata.namespace, 'dev');
  t.same(local.status, { allowed: true, reason: 'dev may read pods' });
  const other = await failure(localsubjectaccessreviews.create({ spec: { user: 'bob', resourceAttributes: { namespace: 'prod', verb: 'get' } } }, { user: alice, authorizer, namespace: 'dev' }));
  t.equal(other.code, 400);
  t.match(other.message, 'spec.resourceAttributes.namespace must match namespace: dev');
  const nonResource = await failure(localsubjectaccessreviews.create({ spec: { user: 'bob', nonResourceAttributes: { path: '/x', verb: 'get' } } }, { user: alice, authorizer, namespace: 'dev' }));
  t.match(nonResource.message, 'disallowed on this kind of request');
});

t.test('SelfSubjectRulesReview: the authorizer\'s rules, or incomplete when it cannot list them', async (t) => {
  const all = await selfsubjectrulesreviews.create({ spec: { namespace: 'default' } }, { user: alice, authorizer: allowAll });
  t.same(all.status, {
    resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }], incomplete: false,
  });
  const opaque = await selfsubjectrulesreviews.create({ spec: { namespace: 'default' } }, { user: alice, authorizer: recordingAuthorizer() });
  t.equal(opaque.status.incomplete, true);
  t.match(opaque.status.evaluationError, 'cannot list rules');
  t.equal((await failure(selfsubjectrulesreviews.create({ spec: {} }, { user: alice, authorizer: allowAll }))).code, 422);
});

t.test('SelfSubjectReview and TokenReview report users', async (t) => {
  const who = await selfsubjectreviews.create({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }, { user: alice, authorizer: allowAll });
  t.same(who.status, { userInfo: { username: 'alice', uid: 'u-1', groups: ['dev', 'system:authenticated'], extra: { scopes: ['a'] } } });
  const reviewToken = async (token: string, audiences: string[] | undefined) => {
    if (token === 'bad') throw new Error('service account token has expired');
    return token === 'good' ? { user: alice, audiences: audiences ?? ['api'] } : null;
  };
  const ctx = { user: alice, authorizer: allowAll, reviewToken };
  t.same((await tokenreviews.create({ spec: { token: 'good' } }, ctx)).status, { authenticated: true, user: { username: 'alice', uid: 'u-1', groups: ['dev', 'system:authenticated'], extra: { scopes: ['a'] } }, audiences: ['api'] });
  t.same((await tokenreviews.create({ spec: { token: 'good', audiences: ['vault'] } }, ctx)).status.audiences, ['vault']);
  t.same((await tokenreviews.create({ spec: { token: 'bad' } }, ctx)).status, { user: {}, error: '[invalid bearer token, service account token has expired]' });
  t.same((await tokenreviews.create({ spec: { token: 'unknown' } }, ctx)).status, { user: {}, error: 'invalid bearer token' });
  const empty = await failure(tokenreviews.create({ spec: {} }, ctx));
  t.equal(empty.code, 400);
  t.equal(empty.message, 'token is required for TokenReview in authentication.k8s.io');
});
