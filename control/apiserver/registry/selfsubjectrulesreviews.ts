// authorization.k8s.io/v1 SelfSubjectRulesReview (`kubectl auth can-i --list`): the rules the authorizer applies to
// the requesting user in a namespace; "incomplete" when the authorizer cannot enumerate them.
import { cause, errors } from '../../../api/errors.ts';
import { isObject } from './common.ts';
import { checkReviewBody, reviewReply, reviewStrategy, type ReviewResource } from './reviews.ts';
import { authorizationGroup } from './selfsubjectaccessreviews.ts';

export const selfsubjectrulesreviews: ReviewResource = {
  strategy: reviewStrategy(authorizationGroup, 'SelfSubjectRulesReview', 'selfsubjectrulesreviews'),
  model: 'V1SelfSubjectRulesReview',
  async create(raw, ctx) {
    const body = checkReviewBody(raw, selfsubjectrulesreviews);
    const spec = isObject(body.spec) ? body.spec : {};
    const ns = typeof spec.namespace === 'string' ? spec.namespace : '';
    if (!ns) throw errors.invalid('SelfSubjectRulesReview', '', [cause.required('spec.namespace')], authorizationGroup);
    const a = ctx.authorizer;
    let status;
    if (!a.rulesFor) {
      status = { resourceRules: [], nonResourceRules: [], incomplete: true, evaluationError: 'the configured authorizer cannot list rules' };
    } else {
      try {
        const r = await a.rulesFor(ctx.user, ns);
        status = { resourceRules: r.resourceRules, nonResourceRules: r.nonResourceRules, incomplete: r.incomplete, ...(r.evaluationError ? { evaluationError: r.evaluationError } : {}) };
      } catch (err) {
        status = { resourceRules: [], nonResourceRules: [], incomplete: true, evaluationError: (err as Error).message };
      }
    }
    return reviewReply(selfsubjectrulesreviews, body, { spec, status });
  },
};
