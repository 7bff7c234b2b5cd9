// Issues service-account JWTs with upstream's claims (pkg/serviceaccount/claims.go): iss, sub, aud, exp, iat, nbf,
// jti and the private "kubernetes.io" claim naming the namespace, the service account and any bound pod, secret
// or node (with uids), so the authenticator can tell when the token outlives what it was bound to.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKey } from './keys.ts';

export const defaultIssuer = 'https://kubernetes.default.svc.cluster.local';

export interface ObjectRef { name: string; uid: string }

/** The "kubernetes.io" private claim. */
export interface KubernetesClaim {
  namespace: string;
  serviceaccount: ObjectRef;
  pod?: ObjectRef;
  secret?: ObjectRef;
  node?: ObjectRef;
}

export interface ServiceAccountClaims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  'kubernetes.io': KubernetesClaim;
}

export interface TokenSpec {
  namespace: string;
  serviceAccount: ObjectRef;
  audiences: string[];
  expirationSeconds: number;
  pod?: ObjectRef;
  secret?: ObjectRef;
  node?: ObjectRef;
  /** Milliseconds since the epoch; defaults to now (tests pass a fixed time). */
  now?: number;
}

export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

export class TokenSigner {
  readonly issuer: string;
  private readonly key: SigningKey;

  constructor(key: SigningKey, issuer = defaultIssuer) {
    this.key = key;
    this.issuer = issuer;
  }

  /** The claims a token for this spec carries (exposed so tests and callers can see what is signed). */
  claimsFor(spec: TokenSpec): ServiceAccountClaims {
    const now = Math.floor((spec.now ?? Date.now()) / 1000);
    const k8s: KubernetesClaim = { namespace: spec.namespace, serviceaccount: { ...spec.serviceAccount } };
    if (spec.pod) k8s.pod = { ...spec.pod };
    if (spec.secret) k8s.secret = { ...spec.secret };
    if (spec.node) k8s.node = { ...spec.node };
    return {
      iss: this.issuer, sub: serviceAccountUsername(spec.namespace, spec.serviceAccount.name), aud: [...spec.audiences],
      exp: now + spec.expirationSeconds, iat: now, nbf: now, jti: randomUUID(), 'kubernetes.io': k8s,
    };
  }

  async sign(spec: TokenSpec): Promise<{ token: string; claims: ServiceAccountClaims; expiresAt: Date }> {
    const claims = this.claimsFor(spec);
    const token = await new SignJWT({ ...claims }).setProtectedHeader({ alg: this.key.alg, kid: this.key.kid }).sign(this.key.key);
    return { token, claims, expiresAt: new Date(claims.exp * 1000) };
  }
}
