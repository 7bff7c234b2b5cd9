// WAL records framed in place (one buffer per Ready): the same bytes as framing each record on its own, read
// back by scan(); and the remainder of a short writev.
import t from 'tap';
import { RecordType, decodeEntry, decodeHardState, encodeEntry, encodeHardState, encodeRecords, frame, scan } from '../../../control/etcd/wal/record.ts';
import { remainderAfter } from '../../../control/etcd/wal/wal.ts';
import type { Entry } from '../../../control/etcd/raft/index.ts';

const entries: Entry[] = [
  { term: 1, index: 1, type: 'ConfChange', data: Buffer.from('cc') },
  { term: 2, index: 2, type: 'Normal', data: Buffer.alloc(0) },
  { term: 2 ** 33, index: 2 ** 40 + 3, type: 'Normal', data: Buffer.alloc(3000, 0xab) },
];
const hs = { term: 2 ** 33, vote: 3, commit: 2 ** 40 };

t.test('encodeRecords writes what framing each record separately writes', (t) => {
  const separate = Buffer.concat([...entries.map(encodeEntry), encodeHardState(hs)]);
  t.equal(encodeRecords(entries, hs).toString('hex'), separate.toString('hex'));
  t.equal(encodeRecords(entries, undefined).toString('hex'), Buffer.concat(entries.map(encodeEntry)).toString('hex'));
  t.equal(encodeRecords([], hs).toString('hex'), encodeHardState(hs).toString('hex'));
  // and encodeEntry is frame() of the entry payload
  const p = Buffer.alloc(17 + 2);
  p.writeUInt32LE(1, 0); p.writeUInt32LE(0, 4); p.writeUInt32LE(1, 8); p.writeUInt32LE(0, 12); p[16] = 1; p.write('cc', 17);
  t.equal(encodeEntry(entries[0]).toString('hex'), frame(RecordType.Entry, p).toString('hex'));
  t.end();
});

t.test('scan reads the records back', (t) => {
  const buf = encodeRecords(entries, hs);
  const got: Entry[] = [];
  let off = 0;
  for (;;) {
    const r = scan(buf, off);
    if (r.kind === 'end') break;
    if (r.kind !== 'record') { t.fail(`${r.kind} at ${off}`); break; }
    if (r.type === RecordType.Entry) got.push(decodeEntry(r.payload));
    else t.same(decodeHardState(r.payload), hs, 'hard state');
    off = r.next;
  }
  t.same(got.map((e) => ({ ...e, data: Buffer.from(e.data).toString('hex') })),
    entries.map((e) => ({ ...e, data: Buffer.from(e.data).toString('hex') })));
  const bad = Buffer.from(buf);
  bad[13 + 17 + 1] ^= 1; // a bit of the first entry's data
  t.equal(scan(bad, 0).kind, 'corrupt', 'the CRC covers the data written in place');
  t.end();
});

t.test('a short writev continues with the bytes not yet written', (t) => {
  const bufs = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('h')];
  const rest = (n: number) => Buffer.concat(remainderAfter(bufs, n)).toString();
  t.equal(rest(0), 'abcdefgh');
  t.equal(rest(2), 'cdefgh');
  t.equal(rest(3), 'defgh');
  t.equal(rest(5), 'fgh');
  t.equal(rest(7), 'h');
  t.equal(rest(8), '');
  t.end();
});
