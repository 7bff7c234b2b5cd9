// Puts the service-account token pieces together from the apiserver's options (upstream flags
// --service-account-signing-key-file, --service-account-key-file, --service-account-issuer, --api-audiences,
// --service-account-max-token-expiration): the signer for TokenRequest, the bearer authenticator, TokenReview's check.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { Registry } from '../registry/rest.ts';
import type { TokenReviewResult } from '../registry/reviews.ts';
import type { TokenRequestOptions } from '../registry/tokenrequest.ts';
import { algorithmOf, keyIdOf, verificationKeyOf, type SigningKey, type VerificationKey } from './keys.ts';
import { registryGetter, ServiceAccountAuthenticator } from './serviceaccount-authenticator.ts';
import { defaultIssuer, TokenSigner } from './token-signer.ts';

export interface ServiceAccountTokenOptions {
  /** Signs new tokens (parseSigningKey of --service-account-signing-key-file). Omitted: a fresh in-memory EC key,
   *  so tokens do not survive a restart and other apiservers cannot verify them. */
  signingKey?: SigningKey;
  /** Verify tokens (--service-account-key-file); the signing key's public half is always accepted too. */
  verificationKeys?: VerificationKey[];
  /** --service-account-issuer values; the first is written into new tokens (default https://kubernetes.default.svc.cluster.local). */
  issuers?: string[];
  /** --api-audiences (default: the issuers). */
  apiAudiences?: string[];
  /** --service-account-max-token-expiration in seconds (0: no cap). */
  maxTokenExpirationSeconds?: number;
  /** --service-account-jwks-uri for the discovery document (default: https://<advertise address>:<port>/openid/v1/jwks). */
  jwksUri?: string;
}

export interface ServiceAccountTokens {
  /** The issuer new tokens carry, and every key that verifies tokens (for the OIDC discovery documents). */
  issuer: string;
  keys: VerificationKey[];
  authenticator: ServiceAccountAuthenticator;
  tokenRequests: TokenRequestOptions;
  reviewToken(token: string, audiences: string[] | undefined): Promise<TokenReviewResult | null>;
}

function ephemeralKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { key: privateKey, alg: algorithmOf(privateKey), kid: keyIdOf(createPublicKey(privateKey)) };
}

export function serviceAccountTokens(registry: Registry, o: ServiceAccountTokenOptions, log: (msg: string, extra?: Record<string, unknown>) => void = () => {}): ServiceAccountTokens {
  let signingKey = o.signingKey;
  if (!signingKey) {
    signingKey = ephemeralKey();
    log('no service account signing key given: using an in-memory key (tokens end with this process)');
  }
  const issuers = o.issuers?.length ? o.issuers : [defaultIssuer];
  const apiAudiences = o.apiAudiences?.length ? o.apiAudiences : issuers;
  const own = verificationKeyOf(signingKey);
  const keys = [own, ...(o.verificationKeys ?? []).filter((k) => k.kid !== own.kid)];
  const signer = new TokenSigner(signingKey, issuers[0]);
  const authenticator = new ServiceAccountAuthenticator({ keys, issuers, audiences: apiAudiences, getter: registryGetter(registry) });
  return {
    issuer: issuers[0]!, keys,
    authenticator,
    tokenRequests: { signer, apiAudiences, maxExpirationSeconds: o.maxTokenExpirationSeconds },
    async reviewToken(token, audiences) {
      const wanted = audiences ?? apiAudiences;
      const user = await authenticator.authenticateToken(token, wanted);
      if (!user) return null;
      const aud = decodeJwt(token).aud;
      const tokenAuds = Array.isArray(aud) ? aud : typeof aud === 'string' ? [aud] : [];
      return { user, audiences: wanted.filter((a) => tokenAuds.includes(a)) };
    },
  };
}
