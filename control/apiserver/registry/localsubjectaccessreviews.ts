// authorization.k8s.io/v1 LocalSubjectAccessReview: a SubjectAccessReview confined to the namespace in the URL, so
// namespace admins can be allowed to ask it.
import { cause, errors } from '../../../api/errors.ts';
import { isObject } from './common.ts';
import { checkReviewBody, reviewReply, reviewStrategy, type ReviewResource } from './reviews.ts';
import { attributesOf, authorizationGroup, decide, validateAccessSpec } from './selfsubjectaccessreviews.ts';
import { subjectOf } from './subjectaccessreviews.ts';

export const localsubjectaccessreviews: ReviewResource = {
  strategy: reviewStrategy(authorizationGroup, 'LocalSubjectAccessReview', 'localsubjectaccessreviews', true),
  model: 'V1LocalSubjectAccessReview',
  async create(raw, ctx) {
    const body = checkReviewBody(raw, localsubjectaccessreviews);
    const spec = isObject(body.spec) ? body.spec : {};
    validateAccessSpec('LocalSubjectAccessReview', spec);
    if (isObject(spec.nonResourceAttributes)) {
      throw errors.invalid('LocalSubjectAccessReview', '', [cause.invalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'disallowed on this kind of request')], authorizationGroup);
    }
    const ns = ctx.namespace ?? '';
    if (body.metadata?.namespace && body.metadata.namespace !== ns) throw errors.badRequest(`namespace of the object (${body.metadata.namespace}) does not match the namespace on the URL (${ns})`);
    spec.resourceAttributes.namespace ||= ns;
    if (spec.resourceAttributes.namespace !== ns) throw errors.badRequest(`spec.resourceAttributes.namespace must match namespace: ${ns}`);
    const subject = subjectOf('LocalSubjectAccessReview', spec);
    const status = await decide(ctx.authorizer, attributesOf(spec, subject));
    return reviewReply(localsubjectaccessreviews, { ...body, metadata: { ...(body.metadata ?? {}), namespace: ns } }, { spec, status });
  },
};
