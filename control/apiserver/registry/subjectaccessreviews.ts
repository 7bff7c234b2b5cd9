// authorization.k8s.io/v1 SubjectAccessReview: may the given user (name, groups, uid, extra) do this? Cluster-scoped;
// callers (webhooks, controllers, `kubectl auth can-i --as`) need create on subjectaccessreviews.
import { cause, errors } from '../../../api/errors.ts';
import type { UserInfo } from '../auth/authenticator.ts';
import { isObject } from './common.ts';
import { checkReviewBody, reviewReply, reviewStrategy, type ReviewResource } from './reviews.ts';
import { attributesOf, authorizationGroup, decide, validateAccessSpec } from './selfsubjectaccessreviews.ts';
import type { Obj } from './types.ts';

/** The user a SubjectAccessReview spec names; exactly as given (no system:authenticated added, as upstream). */
export function subjectOf(kind: string, spec: Obj): UserInfo {
  const user = typeof spec.user === 'string' ? spec.user : '';
  const groups = Array.isArray(spec.groups) ? spec.groups.filter((g: unknown): g is string => typeof g === 'string') : [];
  if (!user && groups.length === 0) {
    throw errors.invalid(kind, '', [cause.invalid('spec.user', user, 'at least one of user or group must be specified')], authorizationGroup);
  }
  const out: UserInfo = { name: user, groups };
  if (typeof spec.uid === 'string' && spec.uid) out.uid = spec.uid;
  if (isObject(spec.extra)) out.extra = spec.extra as Record<string, string[]>;
  return out;
}

export const subjectaccessreviews: ReviewResource = {
  strategy: reviewStrategy(authorizationGroup, 'SubjectAccessReview', 'subjectaccessreviews'),
  model: 'V1SubjectAccessReview',
  async create(raw, ctx) {
    const body = checkReviewBody(raw, subjectaccessreviews);
    const spec = isObject(body.spec) ? body.spec : {};
    validateAccessSpec('SubjectAccessReview', spec);
    const subject = subjectOf('SubjectAccessReview', spec);
    const status = await decide(ctx.authorizer, attributesOf(spec, subject));
    return reviewReply(subjectaccessreviews, body, { spec, status });
  },
};
