// WAL: round trip, group commit, restart recovery, torn tail truncation, corruption refused with file and
// offset, segments and their release after a snapshot.
import t from 'tap';
import type { Test } from 'tap';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WAL, WalCorruptError } from '../../../control/etcd/wal/index.ts';
import type { Entry, HardState } from '../../../control/etcd/raft/index.ts';

const enc = new TextEncoder();

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kts-wal-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function ents(from: number, to: number, term: number, tag = 'v'): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ term, index: i, type: 'Normal', data: enc.encode(`${tag}${i}`) });
  return out;
}

function plain(es: Entry[]): Array<[number, number, string, string]> {
  return es.map((e) => [e.term, e.index, e.type, Buffer.from(e.data).toString()]);
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.wal')).sort();
}

t.test('round trip: what was saved is replayed, with metadata and the latest hard state', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, enc.encode('member=1'));
  await wal.save({ term: 1, vote: 1, commit: 0 }, ents(1, 3, 1));
  await wal.save({ term: 1, vote: 1, commit: 3 }, []);
  const conf: Entry = { term: 1, index: 4, type: 'ConfChange', data: enc.encode('{"x":1}') };
  await wal.save(undefined, [conf]);
  await wal.close();
  const { wal: w2, replay } = await WAL.open(dir);
  t.teardown(() => w2.close());
  t.equal(Buffer.from(replay.metadata).toString(), 'member=1');
  t.same(replay.hardState, { term: 1, vote: 1, commit: 3 });
  t.same(plain(replay.entries), plain([...ents(1, 3, 1), conf]));
  t.same(replay.warnings, []);
});

t.test('saves issued together are written with one fsync (group commit) and all resolve', async (t) => {
  const dir = await tempDir(t);
  const fsyncs: number[] = [];
  const wal = await WAL.create(dir, new Uint8Array(0), { observeFsync: (s) => fsyncs.push(s) });
  const before = fsyncs.length;
  const saves: Promise<void>[] = [];
  for (let i = 1; i <= 100; i++) saves.push(wal.save({ term: 1, vote: 0, commit: i - 1 }, ents(i, i, 1)));
  await Promise.all(saves);
  const rounds = fsyncs.length - before;
  t.ok(rounds >= 1 && rounds <= 2, `100 saves took ${rounds} write+fsync rounds`);
  t.ok(fsyncs.every((s) => s >= 0 && s < 10), 'each fsync is observed with its duration in seconds');
  const mid = fsyncs.length;
  await wal.save({ term: 1, vote: 0, commit: 100 }, [], false);
  t.equal(fsyncs.length, mid, 'a commit-only hard state (mustSync false) is written without fsync');
  await wal.close();
  const { wal: w2, replay } = await WAL.open(dir);
  t.teardown(() => w2.close());
  t.equal(replay.entries.length, 100);
  t.same(replay.hardState, { term: 1, vote: 0, commit: 100 });
});

t.test('a restart recovers exactly what was appended, including rewritten (truncated) entries', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, new Uint8Array(0));
  await wal.save({ term: 1, vote: 2, commit: 2 }, ents(1, 6, 1));
  // A new leader replaced entries 4.. with its own.
  await wal.save({ term: 2, vote: 3, commit: 3 }, ents(4, 5, 2, 'new'));
  await wal.close();
  const { wal: w2, replay } = await WAL.open(dir);
  t.same(plain(replay.entries), plain([...ents(1, 3, 1), ...ents(4, 5, 2, 'new')]));
  t.same(replay.hardState, { term: 2, vote: 3, commit: 3 });
  // Appending after reopening continues the same log.
  await w2.save(undefined, ents(6, 7, 2, 'new'));
  await w2.close();
  const { wal: w3, replay: r3 } = await WAL.open(dir);
  t.teardown(() => w3.close());
  t.equal(r3.entries.length, 7);
  t.equal(Buffer.from(r3.entries[6].data).toString(), 'new7');
});

t.test('a torn final record (crash mid-write) is truncated with a warning and the WAL stays usable', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, new Uint8Array(0));
  await wal.save({ term: 1, vote: 1, commit: 1 }, ents(1, 5, 1));
  await wal.close();
  const [seg] = await segments(dir);
  const path = join(dir, seg);
  const full = (await stat(path)).size;
  await truncate(path, full - 3); // the last record (the hard state) lost its last bytes
  const { wal: w2, replay } = await WAL.open(dir);
  t.equal(replay.warnings.length, 1);
  t.match(replay.warnings[0], /truncated a torn record/);
  t.match(replay.warnings[0], seg);
  t.equal(replay.entries.length, 5, 'every complete record survives');
  t.same(replay.hardState, { term: 0, vote: 0, commit: 0 }, 'the torn hard state is gone (the one from the head remains)');
  await w2.save({ term: 1, vote: 1, commit: 5 }, ents(6, 6, 1));
  await w2.close();
  const { wal: w3, replay: r3 } = await WAL.open(dir);
  t.teardown(() => w3.close());
  t.same(r3.warnings, [], 'the truncation was made permanent');
  t.equal(r3.entries.length, 6);
  t.same(r3.hardState, { term: 1, vote: 1, commit: 5 });
});

t.test('a final record with a bad checksum, or zero bytes after the last record, count as a torn tail', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, new Uint8Array(0));
  await wal.save(undefined, ents(1, 3, 1));
  await wal.close();
  const [seg] = await segments(dir);
  const path = join(dir, seg);
  const buf = await readFile(path);
  buf[buf.byteLength - 1] ^= 0xff; // last byte of the last entry's data
  await writeFile(path, buf);
  await appendFile(path, Buffer.alloc(4096)); // the file grew but the data never landed
  const { wal: w2, replay } = await WAL.open(dir);
  t.teardown(() => w2.close());
  t.equal(replay.entries.length, 2);
  t.match(replay.warnings[0], /CRC mismatch/);
});

t.test('corruption in the middle refuses to open, naming the file and byte offset', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, new Uint8Array(0));
  await wal.save(undefined, ents(1, 1, 1));
  const sizeBeforeSecond = (await stat(join(dir, (await segments(dir))[0]))).size;
  await wal.save(undefined, ents(2, 4, 1));
  await wal.close();
  const [seg] = await segments(dir);
  const path = join(dir, seg);
  const buf = await readFile(path);
  buf[sizeBeforeSecond + 20] ^= 0x01; // a bit flip inside entry 2, with entries 3 and 4 after it
  await writeFile(path, buf);
  const err = await WAL.open(dir).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof WalCorruptError, 'WalCorruptError');
  const c = err as WalCorruptError;
  t.equal(c.file, path);
  t.equal(c.offset, sizeBeforeSecond, 'offset of the damaged record');
  t.match(c.message, `${path} at byte offset ${sizeBeforeSecond}`);
  t.equal((await stat(path)).size, buf.byteLength, 'nothing was truncated');
});

t.test('a damaged length field in the middle is corruption, not a torn tail', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, new Uint8Array(0));
  await wal.save(undefined, ents(1, 1, 1));
  const off = (await stat(join(dir, (await segments(dir))[0]))).size;
  await wal.save(undefined, ents(2, 3, 1));
  await wal.close();
  const path = join(dir, (await segments(dir))[0]);
  const buf = await readFile(path);
  buf[off + 1] ^= 0x40; // length now claims ~16 KiB, past the end of the file
  await writeFile(path, buf);
  await t.rejects(WAL.open(dir), { name: 'WalCorruptError', offset: off, message: /length field is damaged/ });
});

t.test('segments: the WAL rolls over at the size cap, replays across segments, and releases old ones', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, enc.encode('m'), { segmentBytes: 512 });
  for (let i = 1; i <= 60; i++) await wal.save({ term: 1, vote: 1, commit: i - 1 }, ents(i, i, 1));
  const files = await segments(dir);
  t.ok(files.length > 3, `${files.length} segments`);
  t.same(files, wal.segmentFiles());
  await wal.close();
  const { wal: w2, replay } = await WAL.open(dir);
  t.equal(replay.entries.length, 60);
  t.same(replay.hardState, { term: 1, vote: 1, commit: 59 });
  t.equal(Buffer.from(replay.metadata).toString(), 'm');
  // A snapshot at 40 covers entries 1..40: older segments can go, everything after 40 must stay.
  await w2.saveSnapshot({ index: 40, term: 1 });
  const released = await w2.releaseTo(40);
  t.ok(released > 0, `released ${released} segments`);
  t.ok((await segments(dir)).length < files.length);
  await w2.close();
  const { wal: w3, replay: r3 } = await WAL.open(dir, { snapshotIndex: 40 });
  t.teardown(() => w3.close());
  t.same(r3.entries.map((e) => e.index), Array.from({ length: 20 }, (_, i) => 41 + i), 'entries after the snapshot');
  t.same(r3.snapshots, [{ index: 40, term: 1 }]);
  t.same(r3.hardState, { term: 1, vote: 1, commit: 59 }, 'hard state survives in the remaining segments');
});

t.test('damage at the end of a segment that is not the last one is corruption', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, new Uint8Array(0), { segmentBytes: 256 });
  for (let i = 1; i <= 30; i++) await wal.save(undefined, ents(i, i, 1));
  await wal.close();
  const files = await segments(dir);
  t.ok(files.length >= 2);
  const first = join(dir, files[0]);
  const size = (await stat(first)).size;
  await truncate(first, size - 2);
  await t.rejects(WAL.open(dir), { name: 'WalCorruptError', file: first });
});

t.test('a missing segment and a second create are refused', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, new Uint8Array(0), { segmentBytes: 256 });
  for (let i = 1; i <= 30; i++) await wal.save(undefined, ents(i, i, 1));
  await wal.close();
  await t.rejects(WAL.create(dir, new Uint8Array(0)), /already contains a WAL/);
  const files = await segments(dir);
  await rm(join(dir, files[1]));
  await t.rejects(WAL.open(dir), /segment 1 is missing/);
});

t.test('a gap in the entries is refused', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, new Uint8Array(0));
  await wal.save(undefined, ents(1, 2, 1));
  await wal.save(undefined, ents(5, 5, 1));
  await wal.close();
  await t.rejects(WAL.open(dir), /entry 5 follows entry 2/);
});

t.test('a snapshot installed past the end of the log restarts the entries after it', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, new Uint8Array(0));
  await wal.save({ term: 1, vote: 1, commit: 5 }, ents(1, 5, 1));
  await wal.saveSnapshot({ index: 80, term: 3 });
  await wal.save({ term: 3, vote: 0, commit: 82 }, ents(81, 82, 3));
  await wal.close();
  const { wal: w2, replay } = await WAL.open(dir, { snapshotIndex: 80 });
  t.teardown(() => w2.close());
  t.same(replay.entries.map((e) => e.index), [81, 82]);
  await t.rejects(WAL.open(dir, { snapshotIndex: 3 }), /entries 4\.\.80 are missing/);
});

t.test('a record with an unwritten (zero) sector is torn even when later bytes of the same write landed', async (t) => {
  const dir = await tempDir(t);
  const wal = await WAL.create(dir, new Uint8Array(0));
  await wal.save(undefined, ents(1, 2, 1));
  const path = join(dir, (await segments(dir))[0]);
  const off = (await stat(path)).size;
  const big: Entry = { term: 1, index: 3, type: 'Normal', data: new Uint8Array(4096).fill(7) };
  await wal.save(undefined, [big, ...ents(4, 5, 1)]);
  await wal.close();
  const buf = await readFile(path);
  const sector = Math.ceil((off + 100) / 512) * 512;
  buf.fill(0, sector, sector + 512); // one sector of the big record never reached the disk
  await writeFile(path, buf);
  const { wal: w2, replay } = await WAL.open(dir);
  t.teardown(() => w2.close());
  t.same(replay.entries.map((e) => e.index), [1, 2], 'the torn write and everything after it are dropped');
  t.match(replay.warnings[0], `at byte offset ${off}`);
});
