// authentication.k8s.io/v1 SelfSubjectReview (`kubectl auth whoami`): the user the apiserver authenticated.
import { reviewReply, checkReviewBody, reviewStrategy, type ReviewResource } from './reviews.ts';
import type { Obj } from './types.ts';
import type { UserInfo } from '../auth/authenticator.ts';

export const authenticationGroup = 'authentication.k8s.io';

/** authentication/v1 UserInfo as JSON (username, uid, groups, extra; empty ones left out). */
export function userInfoJson(u: UserInfo): Obj {
  const out: Obj = { username: u.name };
  if (u.uid) out.uid = u.uid;
  if (u.groups.length) out.groups = [...u.groups];
  if (u.extra && Object.keys(u.extra).length) out.extra = u.extra;
  return out;
}

export const selfsubjectreviews: ReviewResource = {
  strategy: reviewStrategy(authenticationGroup, 'SelfSubjectReview', 'selfsubjectreviews'),
  model: 'V1SelfSubjectReview',
  create(raw, ctx) {
    const body = checkReviewBody(raw, selfsubjectreviews);
    return reviewReply(selfsubjectreviews, body, { status: { userInfo: userInfoJson(ctx.user) } });
  },
};
