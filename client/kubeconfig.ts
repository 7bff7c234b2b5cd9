// Where the API server is and how to authenticate to it: a kubeconfig file or the in-cluster service account.
// The result is a plain ClientConfig that RestClient understands; nothing here opens a connection.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface ClientConfig {
  /** Base URL, e.g. https://127.0.0.1:6443 (no trailing slash). */
  server: string;
  /** PEM bundle of CAs to trust; undefined means the system roots. */
  ca?: Buffer;
  insecureSkipTLSVerify?: boolean;
  /** SNI and certificate name to expect instead of the host in `server`. */
  tlsServerName?: string;
  /** Static bearer token. */
  token?: string;
  /** File holding a bearer token, re-read now and then (service-account tokens rotate). */
  tokenFile?: string;
  /** PEM client certificate and key for TLS client auth. */
  cert?: Buffer;
  key?: Buffer;
  username?: string;
  password?: string;
  /** Impersonation headers (kubeconfig `as`, `as-groups`). */
  impersonateUser?: string;
  impersonateGroups?: string[];
  /** Namespace of the chosen context ("default" when unset). */
  namespace?: string;
  /** Client-side rate limit (token bucket); qps <= 0 disables it. Defaults: 50 qps, burst 100. */
  qps?: number;
  burst?: number;
  /** Per-request timeout in ms for non-watch requests (default 30 000). */
  timeoutMs?: number;
  userAgent?: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface NamedEntry<T> { name?: string; [k: string]: unknown; cluster?: T; user?: T; context?: T }
type Fields = Record<string, unknown>;

function bad(source: string, what: string): Error {
  return new Error(`kubeconfig ${source}: ${what}`);
}

function findNamed(list: unknown, name: string, kind: string, source: string): Fields {
  if (!Array.isArray(list)) throw bad(source, `no ${kind}s list, so ${kind} "${name}" cannot be found`);
  const entry = (list as NamedEntry<Fields>[]).find((e) => e && e.name === name);
  const body = entry?.[kind as 'cluster' | 'user' | 'context'];
  if (!entry || !body || typeof body !== 'object') throw bad(source, `${kind} "${name}" not found`);
  return body;
}

function str(fields: Fields, key: string, source: string): string | undefined {
  const v = fields[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw bad(source, `field "${key}" must be a string, got ${typeof v}`);
  return v;
}

/** Inline base64 data wins over a file path, as in client-go; relative paths are relative to the kubeconfig's folder. */
function pem(fields: Fields, key: string, baseDir: string, source: string): Buffer | undefined {
  const data = str(fields, `${key}-data`, source);
  if (data) return Buffer.from(data, 'base64');
  const file = str(fields, key, source);
  if (!file) return undefined;
  const path = isAbsolute(file) ? file : resolve(baseDir, file);
  try {
    return readFileSync(path);
  } catch (err) {
    throw bad(source, `cannot read ${key} ${path}: ${(err as Error).message}`);
  }
}

export interface ParseOptions {
  /** Folder that relative file paths in the kubeconfig are resolved against. */
  baseDir?: string;
  /** Context to use instead of current-context. */
  context?: string;
  /** Name shown in error messages (usually the file path). */
  source?: string;
}

/** Parse kubeconfig YAML text into a ClientConfig for one context. */
export function parseKubeconfig(text: string, opts: ParseOptions = {}): ClientConfig {
  const source = opts.source ?? '(inline)';
  const baseDir = opts.baseDir ?? process.cwd();
  let doc: Fields;
  try {
    doc = parseYaml(text) as Fields;
  } catch (err) {
    throw bad(source, `not valid YAML: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object') throw bad(source, 'empty or not a mapping');
  const contextName = opts.context ?? str(doc, 'current-context', source);
  if (!contextName) throw bad(source, 'no current-context set and no context given');
  const context = findNamed(doc.contexts, contextName, 'context', source);
  const clusterName = str(context, 'cluster', source);
  if (!clusterName) throw bad(source, `context "${contextName}" names no cluster`);
  const cluster = findNamed(doc.clusters, clusterName, 'cluster', source);
  const userName = str(context, 'user', source);
  const user = userName ? findNamed(doc.users, userName, 'user', source) : {};

  const server = str(cluster, 'server', source);
  if (!server) throw bad(source, `cluster "${clusterName}" has no server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw bad(source, `cluster "${clusterName}" server "${server}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw bad(source, `cluster "${clusterName}" server "${server}" must be http:// or https://`);
  }

  const cfg: ClientConfig = { server: server.replace(/\/+$/, '') };
  cfg.ca = pem(cluster, 'certificate-authority', baseDir, source);
  if (cluster['insecure-skip-tls-verify'] === true) cfg.insecureSkipTLSVerify = true;
  cfg.tlsServerName = str(cluster, 'tls-server-name', source);
  cfg.token = str(user, 'token', source);
  const tokenFile = str(user, 'tokenFile', source);
  if (tokenFile) cfg.tokenFile = isAbsolute(tokenFile) ? tokenFile : resolve(baseDir, tokenFile);
  cfg.cert = pem(user, 'client-certificate', baseDir, source);
  cfg.key = pem(user, 'client-key', baseDir, source);
  if (!!cfg.cert !== !!cfg.key) throw bad(source, `user "${userName}" needs both client-certificate and client-key`);
  cfg.username = str(user, 'username', source);
  cfg.password = str(user, 'password', source);
  cfg.impersonateUser = str(user, 'as', source);
  const groups = user['as-groups'];
  if (Array.isArray(groups)) cfg.impersonateGroups = groups.map(String);
  if (user.exec || user['auth-provider']) {
    throw bad(source, `user "${userName}" uses an exec or auth-provider plugin, which this client does not run`);
  }
  cfg.namespace = str(context, 'namespace', source) ?? 'default';
  for (const k of Object.keys(cfg) as (keyof ClientConfig)[]) if (cfg[k] === undefined) delete cfg[k];
  return cfg;
}

/** Read and parse a kubeconfig file. */
export function loadKubeconfigFile(path: string, context?: string): ClientConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw bad(path, `cannot read: ${(err as Error).message}`);
  }
  return parseKubeconfig(text, { baseDir: dirname(resolve(path)), context, source: path });
}

export interface InClusterOptions {
  env?: NodeJS.ProcessEnv;
  /** Folder holding token, ca.crt and namespace. */
  dir?: string;
}

/** The pod's service account: KUBERNETES_SERVICE_HOST/PORT plus token and CA in the service-account folder. */
export function inClusterConfig(opts: InClusterOptions = {}): ClientConfig {
  const env = opts.env ?? process.env;
  const dir = opts.dir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set');
  const tokenFile = join(dir, 'token');
  let ca: Buffer;
  try {
    readFileSync(tokenFile);
    ca = readFileSync(join(dir, 'ca.crt'));
  } catch (err) {
    throw new Error(`in-cluster config: cannot read the service account in ${dir}: ${(err as Error).message}`);
  }
  let namespace = 'default';
  try {
    namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || 'default';
  } catch { /* the namespace file is optional */ }
  const h = host.includes(':') ? `[${host}]` : host; // IPv6 literal
  return { server: `https://${h}:${port}`, ca, tokenFile, namespace };
}

export interface LoadOptions {
  /** Explicit kubeconfig path (a --kubeconfig flag); wins over everything else. */
  kubeconfig?: string;
  context?: string;
  /** Override the server URL (a --master flag). */
  master?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * The usual lookup order: --kubeconfig, then $KUBECONFIG (first existing entry), then in-cluster when
 * KUBERNETES_SERVICE_HOST is set, then ~/.kube/config. `master` alone (no file) gives a plain config.
 */
export function loadConfig(opts: LoadOptions = {}): ClientConfig {
  const env = opts.env ?? process.env;
  const withMaster = (c: ClientConfig): ClientConfig => (opts.master ? { ...c, server: opts.master.replace(/\/+$/, '') } : c);
  if (opts.kubeconfig) return withMaster(loadKubeconfigFile(opts.kubeconfig, opts.context));
  const fromEnv = (env.KUBECONFIG ?? '').split(':').filter(Boolean);
  for (const p of fromEnv) {
    if (exists(p)) return withMaster(loadKubeconfigFile(p, opts.context));
  }
  if (opts.master) return { server: opts.master.replace(/\/+$/, ''), namespace: 'default' };
  if (env.KUBERNETES_SERVICE_HOST) return inClusterConfig({ env });
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (exists(home)) return loadKubeconfigFile(home, opts.context);
  throw new Error('no kubeconfig: pass --kubeconfig, set KUBECONFIG, run in a pod, or create ~/.kube/config');
}

function exists(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}
