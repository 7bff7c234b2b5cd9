// Builds the two images a kts cluster needs without any registry, from the host's busybox-static:
// localhost/kts/pause:1 (sleeps forever; the sandbox image) and localhost/kts/busybox:1 (sh, httpd, wget,
// nslookup, ...). Each is a single-layer OCI image-layout tarball that `ctr images import` accepts.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tar, type TarEntry } from './tar.ts';

export const PAUSE_IMAGE = 'localhost/kts/pause:1';
export const BUSYBOX_IMAGE = 'localhost/kts/busybox:1';
export const DEFAULT_BUSYBOX = '/bin/busybox';

export interface ImageSpecToBuild {
  name: string;
  file: string;
  entrypoint: string[] | null;
  cmd: string[] | null;
}

export const IMAGES: ImageSpecToBuild[] = [
  { name: PAUSE_IMAGE, file: 'pause.tar', entrypoint: ['/bin/sleep'], cmd: ['2147483647'] },
  { name: BUSYBOX_IMAGE, file: 'busybox.tar', entrypoint: null, cmd: ['/bin/sh'] },
];

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const ociArch = (): string => ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' } as Record<string, string>)[process.arch] ?? process.arch;

/** The root filesystem: busybox, one symlink per applet, passwd/group, /tmp and a web page for httpd. */
export function rootfsLayer(busybox: Buffer, applets: string[]): Buffer {
  const entries: TarEntry[] = [
    { name: 'bin', type: 'dir' },
    { name: 'bin/busybox', type: 'file', mode: 0o755, data: busybox },
  ];
  for (const a of [...new Set(applets)].sort()) {
    if (a === 'busybox' || !/^[A-Za-z0-9._[\]-]+$/.test(a)) continue;
    entries.push({ name: `bin/${a}`, type: 'symlink', linkname: '/bin/busybox' });
  }
  entries.push(
    { name: 'etc', type: 'dir' },
    { name: 'etc/passwd', type: 'file', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n') },
    { name: 'etc/group', type: 'file', data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
    { name: 'root', type: 'dir', mode: 0o700 },
    { name: 'tmp', type: 'dir', mode: 0o1777 },
    { name: 'www', type: 'dir' },
    { name: 'www/index.html', type: 'file', data: Buffer.from('<h1>hello from busybox httpd</h1>\n') },
  );
  return tar(entries);
}

/** One OCI image-layout tarball holding `layer`, named by the io.containerd.image.name annotation. */
export function ociImageTar(spec: ImageSpecToBuild, layer: Buffer): { tar: Buffer; manifestDigest: string } {
  const layerDigest = `sha256:${sha256(layer)}`;
  const config = Buffer.from(JSON.stringify({
    architecture: ociArch(),
    os: 'linux',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      WorkingDir: '/',
    },
    rootfs: { type: 'layers', diff_ids: [layerDigest] },
    history: [{ created_by: 'kts images build' }],
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha256(config)}`, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
  }));
  const manifestDigest = `sha256:${sha256(manifest)}`;
  const tag = spec.name.slice(spec.name.lastIndexOf(':') + 1);
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length,
      annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': tag },
    }],
  }));
  const blob = (b: Buffer): TarEntry => ({ name: `blobs/sha256/${sha256(b)}`, type: 'file', data: b });
  return {
    manifestDigest,
    tar: tar([
      { name: 'oci-layout', type: 'file', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
      { name: 'index.json', type: 'file', data: index },
      { name: 'blobs', type: 'dir' },
      { name: 'blobs/sha256', type: 'dir' },
      blob(layer), blob(config), blob(manifest),
    ]),
  };
}

export function busyboxApplets(busyboxPath: string): string[] {
  const out = execFileSync(busyboxPath, ['--list'], { encoding: 'utf8' });
  return out.split('\n').map((s) => s.trim()).filter(Boolean);
}

/** Writes pause.tar and busybox.tar into `outDir`; returns the files written. */
export async function buildImages(outDir: string, busyboxPath = DEFAULT_BUSYBOX): Promise<{ name: string; path: string }[]> {
  let busybox: Buffer;
  try {
    busybox = await readFile(busyboxPath);
  } catch (err) {
    throw new Error(`cannot read busybox binary ${busyboxPath} (install busybox-static): ${(err as Error).message}`);
  }
  const layer = rootfsLayer(busybox, busyboxApplets(busyboxPath));
  await mkdir(outDir, { recursive: true });
  const written = [];
  for (const spec of IMAGES) {
    const file = path.join(outDir, spec.file);
    await writeFile(file, ociImageTar(spec, layer).tar);
    written.push({ name: spec.name, path: file });
  }
  return written;
}
