// Pod volumes on the node: emptyDir, hostPath, configMap, secret, downwardAPI and projected sources,
// laid out under <root>/pods/<uid>/volumes/<plugin>/<name>. Contents are rewritten on every sync so
// that configMap/secret changes reach running pods.
import type { V1DownwardAPIVolumeFile, V1KeyToPath, V1Pod, V1Volume } from '@kubernetes/client-node';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KubeletApi } from './api.ts';
import { ConfigError, fieldPathValue, resourceFieldValue } from './env.ts';

export interface VolumeContext {
  rootDir: string;
  api: Pick<KubeletApi, 'getConfigMap' | 'getSecret'>;
  podIP: string;
  hostIP: string;
  nodeName: string;
  /** Projected service-account tokens need the TokenRequest API; supplied when available. */
  serviceAccountToken?: (pod: V1Pod, audience: string | undefined, expirationSeconds: number) => Promise<string>;
}

export interface PreparedVolume { hostPath: string; readOnly: boolean }

export function podDir(rootDir: string, uid: string): string {
  return path.join(rootDir, 'pods', uid);
}

function pluginOf(v: V1Volume): string {
  if (v.emptyDir) return 'kubernetes.io~empty-dir';
  if (v.hostPath) return 'hostpath';
  if (v.configMap) return 'kubernetes.io~configmap';
  if (v.secret) return 'kubernetes.io~secret';
  if (v.downwardAPI) return 'kubernetes.io~downward-api';
  if (v.projected) return 'kubernetes.io~projected';
  throw new ConfigError(`volume "${v.name}": unsupported volume type (supported: emptyDir, hostPath, configMap, secret, downwardAPI, projected)`);
}

function safeRelative(p: string, volume: string): string {
  const norm = path.posix.normalize(p);
  if (path.posix.isAbsolute(norm) || norm.startsWith('..') || norm === '.') {
    throw new ConfigError(`volume "${volume}": invalid item path "${p}"`);
  }
  return norm;
}

/** Writes files atomically into dir (write to a temp dir, then swap), removing stale ones. */
async function writeFiles(dir: string, files: Map<string, { data: Buffer; mode?: number }>, defaultMode: number): Promise<void> {
  const tmp = `${dir}..tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  for (const [rel, f] of files) {
    const target = path.join(tmp, rel);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, f.data);
    await chmod(target, f.mode ?? defaultMode);
  }
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

function keyItems(data: Record<string, Buffer>, items: V1KeyToPath[] | undefined, volume: string, what: string, optional: boolean) {
  const out = new Map<string, { data: Buffer; mode?: number }>();
  if (!items?.length) {
    for (const [k, v] of Object.entries(data)) out.set(safeRelative(k, volume), { data: v });
    return out;
  }
  for (const it of items) {
    const v = data[it.key];
    if (v === undefined) {
      if (optional) continue;
      throw new ConfigError(`volume "${volume}": ${what} has no key "${it.key}"`);
    }
    out.set(safeRelative(it.path, volume), { data: v, mode: it.mode });
  }
  return out;
}

async function configMapData(pod: V1Pod, name: string, optional: boolean, ctx: VolumeContext, volume: string) {
  const cm = await ctx.api.getConfigMap(pod.metadata?.namespace ?? 'default', name);
  if (!cm) {
    if (optional) return {};
    throw new ConfigError(`volume "${volume}": configmap "${name}" not found`);
  }
  const data: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(cm.data ?? {})) data[k] = Buffer.from(v);
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) data[k] = Buffer.from(v, 'base64');
  return data;
}

async function secretData(pod: V1Pod, name: string, optional: boolean, ctx: VolumeContext, volume: string) {
  const s = await ctx.api.getSecret(pod.metadata?.namespace ?? 'default', name);
  if (!s) {
    if (optional) return {};
    throw new ConfigError(`volume "${volume}": secret "${name}" not found`);
  }
  const data: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) data[k] = Buffer.from(v, 'base64');
  for (const [k, v] of Object.entries(s.stringData ?? {})) data[k] = Buffer.from(v);
  return data;
}

function downwardItems(pod: V1Pod, items: V1DownwardAPIVolumeFile[], ctx: VolumeContext, volume: string) {
  const out = new Map<string, { data: Buffer; mode?: number }>();
  for (const it of items) {
    let value: string;
    if (it.fieldRef) value = fieldPathValue(pod, it.fieldRef.fieldPath, ctx);
    else if (it.resourceFieldRef) {
      const c = [...(pod.spec?.containers ?? [])].find((x) => x.name === it.resourceFieldRef!.containerName) ?? pod.spec?.containers?.[0];
      if (!c) throw new ConfigError(`volume "${volume}": no container for resourceFieldRef`);
      value = resourceFieldValue(c, it.resourceFieldRef.resource, it.resourceFieldRef.divisor ? String(it.resourceFieldRef.divisor) : '1');
    } else throw new ConfigError(`volume "${volume}": item "${it.path}" needs fieldRef or resourceFieldRef`);
    out.set(safeRelative(it.path, volume), { data: Buffer.from(value), mode: it.mode });
  }
  return out;
}

async function hostPathVolume(v: V1Volume): Promise<string> {
  const p = v.hostPath!.path;
  const type = v.hostPath!.type ?? '';
  if (!path.isAbsolute(p)) throw new ConfigError(`volume "${v.name}": hostPath "${p}" must be absolute`);
  const exists = existsSync(p);
  const st = exists ? statSync(p) : undefined;
  switch (type) {
    case '': break;
    case 'DirectoryOrCreate': if (!exists) await mkdir(p, { recursive: true, mode: 0o755 }); break;
    case 'FileOrCreate': if (!exists) { await mkdir(path.dirname(p), { recursive: true }); await writeFile(p, '', { mode: 0o644 }); } break;
    case 'Directory': if (!st?.isDirectory()) throw new ConfigError(`hostPath type check failed: ${p} is not a directory`); break;
    case 'File': if (!st?.isFile()) throw new ConfigError(`hostPath type check failed: ${p} is not a file`); break;
    case 'Socket': if (!st?.isSocket()) throw new ConfigError(`hostPath type check failed: ${p} is not a socket file`); break;
    case 'CharDevice': if (!st?.isCharacterDevice()) throw new ConfigError(`hostPath type check failed: ${p} is not a character device`); break;
    case 'BlockDevice': if (!st?.isBlockDevice()) throw new ConfigError(`hostPath type check failed: ${p} is not a block device`); break;
    default: throw new ConfigError(`volume "${v.name}": unsupported hostPath type "${type}"`);
  }
  return p;
}

/** Prepares every volume of the pod; throws ConfigError naming the first bad volume. */
export async function prepareVolumes(pod: V1Pod, ctx: VolumeContext): Promise<Map<string, PreparedVolume>> {
  const uid = pod.metadata?.uid ?? '';
  const out = new Map<string, PreparedVolume>();
  for (const v of pod.spec?.volumes ?? []) {
    const dir = path.join(podDir(ctx.rootDir, uid), 'volumes', pluginOf(v), v.name);
    if (v.hostPath) {
      out.set(v.name, { hostPath: await hostPathVolume(v), readOnly: false });
    } else if (v.emptyDir) {
      await mkdir(dir, { recursive: true, mode: 0o777 });
      await chmod(dir, 0o777);
      out.set(v.name, { hostPath: dir, readOnly: false });
    } else if (v.configMap) {
      const data = await configMapData(pod, v.configMap.name ?? '', !!v.configMap.optional, ctx, v.name);
      await writeFiles(dir, keyItems(data, v.configMap.items, v.name, `configmap "${v.configMap.name}"`, !!v.configMap.optional), v.configMap.defaultMode ?? 0o644);
      out.set(v.name, { hostPath: dir, readOnly: true });
    } else if (v.secret) {
      const data = await secretData(pod, v.secret.secretName ?? '', !!v.secret.optional, ctx, v.name);
      await writeFiles(dir, keyItems(data, v.secret.items, v.name, `secret "${v.secret.secretName}"`, !!v.secret.optional), v.secret.defaultMode ?? 0o644);
      out.set(v.name, { hostPath: dir, readOnly: true });
    } else if (v.downwardAPI) {
      await writeFiles(dir, downwardItems(pod, v.downwardAPI.items ?? [], ctx, v.name), v.downwardAPI.defaultMode ?? 0o644);
      out.set(v.name, { hostPath: dir, readOnly: true });
    } else if (v.projected) {
      const files = new Map<string, { data: Buffer; mode?: number }>();
      for (const src of v.projected.sources ?? []) {
        if (src.configMap) {
          const data = await configMapData(pod, src.configMap.name ?? '', !!src.configMap.optional, ctx, v.name);
          for (const [k, f] of keyItems(data, src.configMap.items, v.name, `configmap "${src.configMap.name}"`, !!src.configMap.optional)) files.set(k, f);
        } else if (src.secret) {
          const data = await secretData(pod, src.secret.name ?? '', !!src.secret.optional, ctx, v.name);
          for (const [k, f] of keyItems(data, src.secret.items, v.name, `secret "${src.secret.name}"`, !!src.secret.optional)) files.set(k, f);
        } else if (src.downwardAPI) {
          for (const [k, f] of downwardItems(pod, src.downwardAPI.items ?? [], ctx, v.name)) files.set(k, f);
        } else if (src.serviceAccountToken) {
          if (!ctx.serviceAccountToken) throw new ConfigError(`volume "${v.name}": serviceAccountToken projection is not available on this node`);
          const tok = await ctx.serviceAccountToken(pod, src.serviceAccountToken.audience, src.serviceAccountToken.expirationSeconds ?? 3600);
          files.set(safeRelative(src.serviceAccountToken.path, v.name), { data: Buffer.from(tok), mode: 0o600 });
        }
      }
      await writeFiles(dir, files, v.projected.defaultMode ?? 0o644);
      out.set(v.name, { hostPath: dir, readOnly: true });
    }
  }
  return out;
}

export async function cleanupPodDir(rootDir: string, uid: string): Promise<void> {
  await rm(podDir(rootDir, uid), { recursive: true, force: true });
}
