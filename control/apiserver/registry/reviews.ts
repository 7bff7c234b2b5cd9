// Create-only resources that are computed, never stored: access reviews, rules reviews, self/token reviews.
// Each one is a file exporting a ReviewResource: its identity for discovery (a Strategy with verbs ["create"])
// and a create() that answers the posted object. The HTTP layer decodes the body and authorizes "create" first.
import { errors } from '../../../api/errors.ts';
import type { Authorizer } from '../auth/authorizer.ts';
import type { UserInfo } from '../auth/authenticator.ts';
import { checkDecode } from '../http/schema.ts';
import { isObject } from './common.ts';
import type { Obj, Strategy } from './types.ts';

export interface TokenReviewResult { user: UserInfo; audiences: string[] }

export interface ReviewContext {
  /** Who is asking. */
  user: UserInfo;
  /** The namespace in the URL (namespaced reviews only). */
  namespace?: string;
  authorizer: Authorizer;
  /** Authenticates a bearer token for TokenReview: null when no authenticator knows it; throws when it is invalid. */
  reviewToken?: (token: string, audiences: string[] | undefined) => Promise<TokenReviewResult | null>;
}

export interface ReviewResource {
  strategy: Strategy;
  /** client-node model name for Go-like type checks of the body. */
  model: string;
  create(body: Obj, ctx: ReviewContext): Promise<Obj> | Obj;
}

export function reviewStrategy(group: string, kind: string, resource: string, namespaced = false): Strategy {
  return { group, version: 'v1', kind, resource, singular: kind.toLowerCase(), namespaced, verbs: ['create'] };
}

/** Checks a decoded body is an object of the review's kind with Go-compatible field types. */
export function checkReviewBody(body: unknown, r: ReviewResource): Obj {
  const s = r.strategy;
  const apiVersion = `${s.group}/${s.version}`;
  if (!isObject(body)) throw errors.badRequest(`the body of the request must be a ${s.kind} object`);
  if (body.kind !== undefined && body.kind !== s.kind) throw errors.badRequest(`the kind "${String(body.kind)}" of the object does not match the kind of the request "${s.kind}"`);
  if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) throw errors.badRequest(`the apiVersion "${String(body.apiVersion)}" of the object does not match the request "${apiVersion}"`);
  const probs = checkDecode(body, r.model, s.kind);
  if (probs.typeError) throw errors.badRequest(`${s.kind} in version "${s.version}" cannot be handled as a ${s.kind}: ${probs.typeError}`);
  return body;
}

/** The reply object: the request echoed with apiVersion/kind and server-side fields. */
export function reviewReply(r: ReviewResource, body: Obj, rest: Obj): Obj {
  const meta = isObject(body.metadata) ? { ...body.metadata } : {};
  return { kind: r.strategy.kind, apiVersion: `${r.strategy.group}/${r.strategy.version}`, metadata: { ...meta, creationTimestamp: null }, ...rest };
}
