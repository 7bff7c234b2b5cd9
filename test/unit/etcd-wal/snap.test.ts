// Snapshot files: round trip, atomic save, corrupt files refused with their name, newest usable one picked.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnapCorruptError, Snapshotter, encodeSnapshot } from '../../../control/etcd/snap/index.ts';
import type { Snapshot } from '../../../control/etcd/raft/index.ts';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kts-snap-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function snap(index: number, term: number, data: string): Snapshot {
  return { metadata: { index, term, confState: { voters: [1, 2, 3], learners: [4] } }, data: new TextEncoder().encode(data) };
}

t.test('round trip: metadata and data come back exactly', async (t) => {
  const dir = await tempDir(t);
  const s = new Snapshotter(join(dir, 'snap'));
  const path = await s.save(snap(1200, 3, 'state-machine-bytes'));
  t.match(path, /0000000000000003-00000000000004b0\.snap$/);
  const back = await s.load(path);
  t.same(back.metadata, { index: 1200, term: 3, confState: { voters: [1, 2, 3], learners: [4] } });
  t.equal(Buffer.from(back.data).toString(), 'state-machine-bytes');
  t.same((await readdir(join(dir, 'snap'))).filter((n) => n.endsWith('.tmp')), [], 'no temp file left');
});

t.test('a corrupt snapshot is refused with an error naming the file', async (t) => {
  const dir = await tempDir(t);
  const s = new Snapshotter(dir);
  const path = await s.save(snap(10, 1, 'x'.repeat(1000)));
  const buf = await readFile(path);
  buf[buf.byteLength - 10] ^= 0x04;
  await writeFile(path, buf);
  await t.rejects(s.load(path), { name: 'SnapCorruptError', file: path, message: /checksum mismatch/ });
  await writeFile(path, Buffer.from('garbage'));
  await t.rejects(s.load(path), SnapCorruptError);
});

t.test('loadNewest picks the newest valid snapshot, skipping damaged ones and ones the WAL does not know', async (t) => {
  const dir = await tempDir(t);
  const s = new Snapshotter(dir);
  await s.save(snap(10, 1, 'ten'));
  await s.save(snap(20, 2, 'twenty'));
  const p30 = await s.save(snap(30, 2, 'thirty'));
  const buf = await readFile(p30);
  buf[20] ^= 0xff;
  await writeFile(p30, buf);
  const { snapshot, warnings } = await s.loadNewest();
  t.equal(snapshot?.metadata.index, 20);
  t.equal(warnings.length, 1);
  t.match(warnings[0], p30);
  const withMarkers = await s.loadNewest([{ index: 10, term: 1 }]);
  t.equal(withMarkers.snapshot?.metadata.index, 10, 'only snapshots recorded in the WAL');
  t.equal((await new Snapshotter(join(dir, 'none')).loadNewest()).snapshot, undefined, 'no directory: no snapshot');
});

t.test('purge keeps the newest snapshots', async (t) => {
  const dir = await tempDir(t);
  const s = new Snapshotter(dir);
  for (let i = 1; i <= 5; i++) await s.save(snap(i * 100, 1, `s${i}`));
  const dropped = await s.purge(2);
  t.equal(dropped.length, 3);
  t.same((await s.list()).map((n) => parseInt(n.split('-')[1], 16)), [500, 400]);
  await t.rejects(s.save(snap(0, 0, '')), /empty snapshot/);
});

t.test('a large snapshot (written and checksummed in slices) is the encodeSnapshot bytes', async (t) => {
  const dir = await tempDir(t);
  const s = new Snapshotter(dir);
  const data = Buffer.alloc(9 * 1024 * 1024 + 124);
  for (let i = 0; i + 4 <= data.byteLength; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  const big: Snapshot = { metadata: { index: 77, term: 2, confState: { voters: [1], learners: [] } }, data: data.subarray(0, data.byteLength - 3) };
  const path = await s.save(big);
  t.ok((await readFile(path)).equals(encodeSnapshot(big)), 'same file bytes');
  const back = await s.load(path);
  t.ok(Buffer.from(back.data).equals(Buffer.from(big.data)), 'data comes back');
  const bytes = await readFile(path);
  bytes[bytes.byteLength - 5 * 1024 * 1024] ^= 1; // a bit in the second CRC slice
  await writeFile(path, bytes);
  await t.rejects(s.load(path), { name: 'SnapCorruptError', message: /checksum mismatch/ });
});

t.test('saveFrom: data written chunk by chunk (one buffer reused) gives the same file; loadAt reads it back', async (t) => {
  const dir = await tempDir(t);
  const s = new Snapshotter(dir);
  const want = snap(500, 4, 'abcdefghij'.repeat(10_000));
  const shared = Buffer.alloc(4096);
  const path = await s.saveFrom(want.metadata, async (sink) => {
    for (let off = 0; off < want.data.byteLength; off += shared.byteLength) {
      const n = Math.min(shared.byteLength, want.data.byteLength - off);
      shared.set(want.data.subarray(off, off + n));
      await sink(shared.subarray(0, n));
      shared.fill(0); // the writer may reuse its memory once sink resolved
    }
  });
  t.ok((await readFile(path)).equals(encodeSnapshot(want)), 'same file bytes as the one-buffer encoding');
  const back = await s.loadAt(4, 500);
  t.same(back.metadata, want.metadata);
  t.ok(Buffer.from(back.data).equals(Buffer.from(want.data)), 'data comes back');
  await t.rejects(s.loadAt(4, 501), /ENOENT/, 'no file for another index');
  t.same((await readdir(dir)).filter((n) => n.endsWith('.tmp')), [], 'no temp file left');
});
