// authorization.k8s.io/v1 SelfSubjectAccessReview (`kubectl auth can-i`): asks the configured authorizer whether the
// requesting user may do what spec describes, and says what it answered.
import { cause, errors } from '../../../api/errors.ts';
import type { Attributes, Authorizer, Decision } from '../auth/authorizer.ts';
import type { UserInfo } from '../auth/authenticator.ts';
import { isObject } from './common.ts';
import { checkReviewBody, reviewReply, reviewStrategy, type ReviewResource } from './reviews.ts';
import type { Obj } from './types.ts';

export const authorizationGroup = 'authorization.k8s.io';

/** Upstream's spec validation: exactly one of resourceAttributes and nonResourceAttributes. */
export function validateAccessSpec(kind: string, spec: Obj, name = ''): void {
  const ra = spec?.resourceAttributes;
  const nra = spec?.nonResourceAttributes;
  if (isObject(ra) && isObject(nra)) {
    throw errors.invalid(kind, name, [cause.invalid('spec.nonResourceAttributes', nra, 'cannot be specified in combination with resourceAttributes')], authorizationGroup);
  }
  if (!isObject(ra) && !isObject(nra)) {
    throw errors.invalid(kind, name, [cause.invalid('spec.resourceAttributes', null, 'exactly one of nonResourceAttributes or resourceAttributes must be specified')], authorizationGroup);
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The authorizer attributes a review spec describes. */
export function attributesOf(spec: Obj, user: UserInfo): Attributes {
  const ra = spec.resourceAttributes;
  if (isObject(ra)) {
    return {
      user, verb: str(ra.verb), resourceRequest: true, apiGroup: str(ra.group), apiVersion: str(ra.version), namespace: str(ra.namespace),
      resource: str(ra.resource), subresource: str(ra.subresource), name: str(ra.name), path: '',
    };
  }
  const nra = spec.nonResourceAttributes as Obj;
  return { user, verb: str(nra.verb), resourceRequest: false, apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '', path: str(nra.path) };
}

/** SubjectAccessReviewStatus from a decision: allowed, denied only when refused outright, reason and error when given. */
export async function decide(authorizer: Authorizer, attrs: Attributes): Promise<Obj> {
  let d: Decision;
  try {
    d = await authorizer.authorize(attrs);
  } catch (err) {
    return { allowed: false, evaluationError: (err as Error).message };
  }
  const status: Obj = { allowed: d.allowed === true };
  if (!d.allowed && d.denied) status.denied = true;
  if (d.reason) status.reason = d.reason;
  if (d.evaluationError) status.evaluationError = d.evaluationError;
  return status;
}

export const selfsubjectaccessreviews: ReviewResource = {
  strategy: reviewStrategy(authorizationGroup, 'SelfSubjectAccessReview', 'selfsubjectaccessreviews'),
  model: 'V1SelfSubjectAccessReview',
  async create(raw, ctx) {
    const body = checkReviewBody(raw, selfsubjectaccessreviews);
    const spec = isObject(body.spec) ? body.spec : {};
    validateAccessSpec('SelfSubjectAccessReview', spec);
    const status = await decide(ctx.authorizer, attributesOf(spec, ctx.user));
    return reviewReply(selfsubjectaccessreviews, body, { spec, status });
  },
};
