// Service-account issuer discovery (upstream ServiceAccountIssuerDiscovery): /.well-known/openid-configuration and
// /openid/v1/jwks let anyone outside the cluster verify service-account tokens with an ordinary OIDC library.
import { exportJWK } from 'jose';
import type { VerificationKey } from './keys.ts';

export interface OpenIdDocuments { configuration: object; jwks: object }

/** The two documents, or undefined when the issuer is not an https URL (upstream then serves neither). */
export async function openIdDocuments(issuer: string, jwksUri: string, keys: VerificationKey[]): Promise<OpenIdDocuments | undefined> {
  let url: URL;
  try { url = new URL(issuer); } catch { return undefined; }
  if (url.protocol !== 'https:') return undefined;
  const jwks = { keys: await Promise.all(keys.map(async (k) => ({ use: 'sig', ...(await exportJWK(k.key)), kid: k.kid, alg: k.alg }))) };
  const configuration = {
    issuer, jwks_uri: jwksUri, response_types_supported: ['id_token'], subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...new Set(keys.map((k) => k.alg))].sort(),
  };
  return { configuration, jwks };
}
