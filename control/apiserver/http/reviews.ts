// Wiring for the resources that are answered rather than stored: the access/rules/self/token reviews (POST only)
// and serviceaccounts/{name}/token. server.ts calls serveReview() before looking for a stored resource, and
// serveTokenRequest() from its subresource dispatch.
import { ApiError, errors } from '../../../api/errors.ts';
import type { Attributes } from '../auth/authorizer.ts';
import type { UserInfo } from '../auth/authenticator.ts';
import { localsubjectaccessreviews } from '../registry/localsubjectaccessreviews.ts';
import type { Registry } from '../registry/rest.ts';
import type { ReviewContext, ReviewResource } from '../registry/reviews.ts';
import { selfsubjectaccessreviews } from '../registry/selfsubjectaccessreviews.ts';
import { selfsubjectreviews } from '../registry/selfsubjectreviews.ts';
import { selfsubjectrulesreviews } from '../registry/selfsubjectrulesreviews.ts';
import { subjectaccessreviews } from '../registry/subjectaccessreviews.ts';
import { createTokenRequest, type TokenRequestOptions } from '../registry/tokenrequest.ts';
import { tokenreviews } from '../registry/tokenreviews.ts';
import type { Strategy } from '../registry/types.ts';
import { decodeBody } from './body.ts';
import type { Reply } from './handlers.ts';
import type { RequestInfo } from './request-info.ts';

export const reviewResources: ReviewResource[] = [
  tokenreviews, selfsubjectreviews,
  selfsubjectaccessreviews, subjectaccessreviews, localsubjectaccessreviews, selfsubjectrulesreviews,
];

/** Their identities, for discovery. */
export const reviewStrategies: Strategy[] = reviewResources.map((r) => r.strategy);

export function findReview(info: RequestInfo): ReviewResource | undefined {
  return reviewResources.find((r) => r.strategy.group === info.group && r.strategy.resource === info.resource);
}

export interface ReviewRequest {
  info: RequestInfo;
  method: string;
  path: string;
  user: UserInfo;
  contentType?: string;
  body?: Buffer;
  context: Omit<ReviewContext, 'user' | 'namespace'>;
  authorize(user: UserInfo, attrs: Omit<Attributes, 'user'>): Promise<void>;
}

const pathNotFound = () => new ApiError('NotFound', 'the server could not find the requested resource');

export async function serveReview(review: ReviewResource, r: ReviewRequest): Promise<Reply> {
  const s = review.strategy;
  const { info } = r;
  if (info.version !== s.version || info.name !== undefined || info.watchPath || s.namespaced !== (info.namespace !== undefined)) throw pathNotFound();
  if (r.method !== 'POST') throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
  await r.authorize(r.user, { verb: 'create', resourceRequest: true, apiGroup: s.group, apiVersion: s.version, namespace: info.namespace ?? '', resource: s.resource, subresource: '', name: '', path: r.path });
  const body = await decodeBody(r.contentType, r.body);
  const out = await review.create(body, { ...r.context, user: r.user, namespace: info.namespace });
  return { code: 201, body: out };
}

export async function serveTokenRequest(registry: Registry, o: TokenRequestOptions | undefined, namespace: string, name: string, contentType: string | undefined, body: Buffer | undefined): Promise<Reply> {
  // upstream registers serviceaccounts/token only when a signing key is configured
  if (!o) throw new ApiError('NotFound', 'the server could not find the requested resource (post serviceaccounts token): no service account signing key is configured');
  const decoded = await decodeBody(contentType, body);
  const res = await createTokenRequest(registry, o, namespace, name, decoded);
  return { code: 201, body: res.body, warnings: res.warnings };
}
