// authentication.k8s.io/v1 TokenReview: is this bearer token valid, and whose is it? (webhook token authentication,
// the kubelet's delegated authn). A token nobody knows or an invalid one is a successful review that says no.
import { errors } from '../../../api/errors.ts';
import { isObject } from './common.ts';
import { checkReviewBody, reviewReply, reviewStrategy, type ReviewResource } from './reviews.ts';
import { authenticationGroup, userInfoJson } from './selfsubjectreviews.ts';

export const tokenreviews: ReviewResource = {
  strategy: reviewStrategy(authenticationGroup, 'TokenReview', 'tokenreviews'),
  model: 'V1TokenReview',
  async create(raw, ctx) {
    const body = checkReviewBody(raw, tokenreviews);
    const spec = isObject(body.spec) ? body.spec : {};
    const token = typeof spec.token === 'string' ? spec.token : '';
    if (!token) throw errors.badRequest(`token is required for TokenReview in ${authenticationGroup}`);
    const audiences = Array.isArray(spec.audiences) && spec.audiences.length ? spec.audiences.filter((a: unknown): a is string => typeof a === 'string') : undefined;
    let status;
    try {
      const res = ctx.reviewToken ? await ctx.reviewToken(token, audiences) : null;
      status = res ? { authenticated: true, user: userInfoJson(res.user), audiences: res.audiences } : { user: {}, error: 'invalid bearer token' };
    } catch (err) {
      status = { user: {}, error: `[invalid bearer token, ${(err as Error).message}]` };
    }
    return reviewReply(tokenreviews, body, { spec, status });
  },
};
