// Who is calling. The seam the security work extends (bearer tokens, service account tokens): an authenticator
// looks at a request and returns a user with groups, or null to let the next one try.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { errors } from '../../../api/errors.ts';

export interface UserInfo { name: string; uid?: string; groups: string[]; extra?: Record<string, string[]> }

export interface Authenticator {
  authenticate(req: IncomingMessage): Promise<UserInfo | null> | UserInfo | null;
}

export const anonymousUser: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

function asList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Client certificates signed by --client-ca-file: CN is the user name, each O a group (Kubernetes convention). */
// A connection's client certificate cannot change, and reading it is costly: remember the answer per socket.
const bySocket = new WeakMap<object, UserInfo | null>();

export const x509Authenticator: Authenticator = {
  authenticate(req) {
    const socket = req.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return null;
    const known = bySocket.get(socket);
    if (known !== undefined) return known;
    const cert = socket.getPeerCertificate();
    const cn = cert?.subject?.CN;
    const user = cn ? { name: Array.isArray(cn) ? cn[0]! : cn, groups: [...asList(cert.subject.O), 'system:authenticated'] } : null;
    bySocket.set(socket, user);
    return user;
  },
};

/** Tries each authenticator in turn; the first user wins. When none answers: an authenticator's error (an invalid
 *  token) or a bearer token nobody recognised is 401 Unauthorized, as upstream; otherwise the anonymous user when
 *  allowed. */
export function unionAuthenticator(list: Authenticator[], allowAnonymous: boolean): Authenticator & { allowAnonymous: boolean } {
  return {
    allowAnonymous,
    async authenticate(req) {
      let failed: unknown;
      for (const a of list) {
        try {
          const u = await a.authenticate(req);
          if (u) return u;
        } catch (err) {
          failed ??= err;
        }
      }
      if (failed !== undefined || presentsBearerToken(req)) throw errors.unauthorized();
      return allowAnonymous ? anonymousUser : null;
    },
  };
}

function presentsBearerToken(req: IncomingMessage): boolean {
  const h = req.headers.authorization;
  return typeof h === 'string' && /^\s*bearer\s+\S/i.test(h);
}
