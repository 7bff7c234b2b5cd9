// The image builder's output: a valid OCI layout whose digests match its blobs (pure, no containerd).
import t from 'tap';
import { createHash } from 'node:crypto';
import { ociImageTar, rootfsLayer, PAUSE_IMAGE } from '../../../agent/images/build.ts';
import { listTar, tar } from '../../../agent/images/tar.ts';

t.test('tar round trip keeps names, types, links and long paths', async (t) => {
  const long = `${'d'.repeat(80)}/${'f'.repeat(60)}`;
  const entries = listTar(tar([
    { name: 'bin', type: 'dir' },
    { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
    { name: 'x.txt', type: 'file', data: Buffer.from('hello') },
    { name: long, type: 'file', data: Buffer.alloc(700, 1) },
  ]));
  t.same(entries.map((e) => [e.name, e.type]), [['bin/', '5'], ['bin/sh', '2'], ['x.txt', '0'], [long, '0']]);
  t.equal(entries[1]!.linkname, '/bin/busybox');
  t.equal(entries[2]!.data.toString(), 'hello');
  t.equal(entries[3]!.size, 700);
});

t.test('OCI layout names the image and its digests match', async (t) => {
  const layer = rootfsLayer(Buffer.from('fake busybox'), ['sh', 'httpd', 'busybox', 'sleep']);
  const names = listTar(layer).map((e) => e.name);
  t.ok(names.includes('bin/httpd') && names.includes('www/index.html') && names.includes('etc/passwd'));
  t.notOk(names.includes('bin/busybox') && names.filter((n) => n === 'bin/busybox').length > 1);
  const out = ociImageTar({ name: PAUSE_IMAGE, file: 'pause.tar', entrypoint: ['/bin/sleep'], cmd: ['2147483647'] }, layer);
  const files = new Map(listTar(out.tar).map((e) => [e.name, e.data]));
  const index = JSON.parse(files.get('index.json')!.toString());
  t.equal(index.manifests[0].annotations['io.containerd.image.name'], PAUSE_IMAGE);
  for (const [name, data] of files) {
    if (name.startsWith('blobs/sha256/') && data.length) {
      t.equal(createHash('sha256').update(data).digest('hex'), name.slice('blobs/sha256/'.length), `${name} digest`);
    }
  }
  const manifest = JSON.parse(files.get(`blobs/sha256/${out.manifestDigest.slice(7)}`)!.toString());
  const config = JSON.parse(files.get(`blobs/sha256/${manifest.config.digest.slice(7)}`)!.toString());
  t.same(config.config.Entrypoint, ['/bin/sleep']);
  t.equal(config.rootfs.diff_ids[0], manifest.layers[0].digest);
  // Deterministic: the same input builds the same manifest.
  t.equal(ociImageTar({ name: PAUSE_IMAGE, file: 'pause.tar', entrypoint: ['/bin/sleep'], cmd: ['2147483647'] }, layer).manifestDigest, out.manifestDigest);
});
