// May this user do this? Asked once per request with upstream's attributes. Allow-all until RBAC lands.
import type { UserInfo } from './authenticator.ts';

export interface Attributes {
  user: UserInfo;
  verb: string;
  resourceRequest: boolean;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  path: string;
}

export interface Decision { allowed: boolean; reason?: string }

export interface Authorizer {
  authorize(a: Attributes): Promise<Decision> | Decision;
}

export const allowAll: Authorizer = { authorize: () => ({ allowed: true }) };

/** The upstream Forbidden message for a denied request. */
export function forbiddenMessage(a: Attributes, reason?: string): string {
  const why = reason ? `: ${reason}` : '';
  if (!a.resourceRequest) return `forbidden: User "${a.user.name}" cannot ${a.verb} path "${a.path}"${why}`;
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const what = `${a.resource}${a.name ? ` "${a.name}"` : ''} is forbidden: User "${a.user.name}" cannot ${a.verb} resource "${res}" in API group "${a.apiGroup}"`;
  return `${what}${a.namespace ? ` in the namespace "${a.namespace}"` : ' at the cluster scope'}${why}`;
}
