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

/** allowed, or not: denied says the authorizer actively refused (upstream DecisionDeny) rather than had no opinion. */
export interface Decision { allowed: boolean; denied?: boolean; reason?: string; evaluationError?: string }

/** What a user may do in a namespace (SelfSubjectRulesReview); incomplete when the authorizer cannot list it all. */
export interface ResourceRule { verbs: string[]; apiGroups?: string[]; resources?: string[]; resourceNames?: string[] }
export interface NonResourceRule { verbs: string[]; nonResourceURLs?: string[] }
export interface RuleSet { resourceRules: ResourceRule[]; nonResourceRules: NonResourceRule[]; incomplete: boolean; evaluationError?: string }

export interface Authorizer {
  authorize(a: Attributes): Promise<Decision> | Decision;
  /** Optional: the rules that apply to a user in a namespace; without it rules reviews say "incomplete". */
  rulesFor?(user: UserInfo, namespace: string): Promise<RuleSet> | RuleSet;
}

/** Upstream's AlwaysAllow: every request, and rules that say so. */
export const allowAll: Authorizer = {
  authorize: () => ({ allowed: true }),
  rulesFor: () => ({
    resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
    nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
    incomplete: false,
  }),
};

/** The upstream Forbidden message for a denied request. */
export function forbiddenMessage(a: Attributes, reason?: string): string {
  const why = reason ? `: ${reason}` : '';
  if (!a.resourceRequest) return `forbidden: User "${a.user.name}" cannot ${a.verb} path "${a.path}"${why}`;
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const what = `${a.resource}${a.name ? ` "${a.name}"` : ''} is forbidden: User "${a.user.name}" cannot ${a.verb} resource "${res}" in API group "${a.apiGroup}"`;
  return `${what}${a.namespace ? ` in the namespace "${a.namespace}"` : ' at the cluster scope'}${why}`;
}
