// The single-member WAL: records round-trip, a torn tail is cut off, damage in the middle refuses to open.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { LogFile, LogFileCorruptError } from '../../../control/etcd/server/log-file.ts';

async function readBack(file: string, warnings: string[] = []): Promise<string[]> {
  const out: string[] = [];
  const log = new LogFile(file);
  await log.open((p) => out.push(p.toString()), (w) => warnings.push(w));
  log.close();
  return out;
}

t.test('records round-trip across reopen and appends continue after them', async (t) => {
  const file = path.join(t.testdir(), 'wal.log');
  const log = new LogFile(file);
  await log.open(() => {});
  await log.append([Buffer.from('one'), Buffer.from('two')]);
  await log.append([Buffer.from('three')]);
  log.close();
  t.same(await readBack(file), ['one', 'two', 'three']);
  const again = new LogFile(file);
  await again.open(() => {});
  await again.append([Buffer.from('four')]);
  again.close();
  t.same(await readBack(file), ['one', 'two', 'three', 'four']);
});

t.test('a torn last record is truncated with a warning', async (t) => {
  const file = path.join(t.testdir(), 'wal.log');
  const log = new LogFile(file);
  await log.open(() => {});
  await log.append([Buffer.from('kept'), Buffer.from('torn-record')]);
  log.close();
  fs.truncateSync(file, fs.statSync(file).size - 4);
  const warnings: string[] = [];
  t.same(await readBack(file, warnings), ['kept']);
  t.match(warnings[0], /torn record at offset 12/);
  t.equal(fs.statSync(file).size, 12, 'file cut back to the last whole record');
});

t.test('corruption before the tail refuses to open, naming file and offset', async (t) => {
  const file = path.join(t.testdir(), 'wal.log');
  const log = new LogFile(file);
  await log.open(() => {});
  await log.append([Buffer.from('aaaa'), Buffer.from('bbbb'), Buffer.from('cccc')]);
  log.close();
  const buf = fs.readFileSync(file);
  buf[12 + 8] ^= 0xff; // flip a payload byte of the second record
  fs.writeFileSync(file, buf);
  await t.rejects(readBack(file), LogFileCorruptError);
  await t.rejects(readBack(file), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: corrupt record at offset 12`));
});
