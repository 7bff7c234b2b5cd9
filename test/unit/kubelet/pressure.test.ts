// Node pressure: evictionHard parsing with clear errors, thresholds against signals, the host readers, and the
// Node's MemoryPressure/DiskPressure/PIDPressure conditions turning True (and back) as the signals move.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeRuntime } from '../../../agent/cri/fake.ts';
import { FakeKubeletApi } from '../../../agent/kubelet/fake-api.ts';
import { parseKubeletConfiguration } from '../../../agent/kubelet/config.ts';
import { DEFAULT_KUBELET_CONFIG, Kubelet } from '../../../agent/kubelet/kubelet.ts';
import {
  DEFAULT_EVICTION_HARD, parseEvictionHard, parseMeminfo, parsePids, pressureOf, readSignals, type Signals,
} from '../../../agent/kubelet/pressure.ts';

const Mi = 1024 ** 2;
const healthy = (): Signals => ({
  'memory.available': { available: 2000 * Mi, capacity: 4000 * Mi },
  'nodefs.available': { available: 50e9, capacity: 100e9 },
  'nodefs.inodesFree': { available: 5e6, capacity: 6e6 },
  'pid.available': { available: 4_000_000, capacity: 4_194_304 },
});

t.test('evictionHard: upstream defaults, quantities and percentages, errors that name the entry', (t) => {
  const d = parseEvictionHard(DEFAULT_EVICTION_HARD);
  t.same(d['memory.available'], { quantity: 100 * Mi });
  t.same(d['nodefs.available'], { fraction: 0.1 });
  t.throws(() => parseEvictionHard({ 'memory.avail': '1Gi' }), /unknown signal "memory.avail"/);
  t.throws(() => parseEvictionHard({ 'memory.available': 'lots' }), /memory.available: "lots" is neither a quantity/);
  t.throws(() => parseEvictionHard({ 'nodefs.available': '120%' }), /over 100%/);
  const cfg = parseKubeletConfiguration('kind: KubeletConfiguration\nevictionHard:\n  memory.available: 1Gi\n', 'k.yaml');
  t.same(cfg.evictionHard, { 'memory.available': { quantity: 1024 * Mi } }, 'a map given replaces the defaults, as upstream');
  t.throws(() => parseKubeletConfiguration('evictionHard: [1]\n', 'k.yaml'), /k.yaml: evictionHard must be a map/);
  t.end();
});

t.test('thresholds against signals', (t) => {
  const th = parseEvictionHard(DEFAULT_EVICTION_HARD);
  t.same(pressureOf(healthy(), th), { memory: false, disk: false, pid: false });
  const s = healthy();
  s['memory.available'].available = 99 * Mi;
  s['nodefs.inodesFree'].available = 0.04 * 6e6;
  s['pid.available'].available = 1000;
  t.same(pressureOf(s, th), { memory: true, disk: true, pid: true });
  const disk = healthy();
  disk['nodefs.available'].available = 9e9;
  t.same(pressureOf(disk, th), { memory: false, disk: true, pid: false }, 'nodefs under 10% is disk pressure');
  t.same(pressureOf(s, {}), { memory: false, disk: false, pid: false }, 'no thresholds, no pressure');
  t.end();
});

t.test('host readers', async (t) => {
  t.same(parseMeminfo('MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    8000000 kB\n'),
    { available: 8000000 * 1024, capacity: 16000000 * 1024 });
  t.throws(() => parseMeminfo('MemTotal: 1 kB\n'), /no MemAvailable/);
  t.same(parsePids('0.52 0.58 0.59 2/812 12345\n', '4194304\n'), { available: 4194304 - 812, capacity: 4194304 });
  t.throws(() => parsePids('garbage', '10'), /cannot read the number of tasks/);
  const here = await readSignals(os.tmpdir());
  for (const [name, m] of Object.entries(here)) {
    t.ok(m.capacity > 0 && m.available >= 0 && m.available <= m.capacity, `${name}: ${m.available} of ${m.capacity}`);
  }
});

t.test('the Node conditions follow the signals', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kts-kl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const api = new FakeKubeletApi();
  let signals = healthy();
  const facts = { cpuCores: 2, memoryBytes: 4000 * Mi, ephemeralStorageBytes: 100e9, kernelVersion: '6.1.0', osImage: 'Debian',
    architecture: 'amd64', machineID: 'm', systemUUID: 's', bootID: 'b' };
  const kl = new Kubelet({ api, runtime: new FakeRuntime(), facts, signals: async () => signals,
    config: { ...DEFAULT_KUBELET_CONFIG, nodeName: 'n1', hostname: 'n1', nodeIP: '192.0.2.7', rootDir: path.join(dir, 'root'),
      logRoot: path.join(dir, 'logs') } });
  await kl.start();
  t.teardown(() => kl.stop());
  const cond = (type: string) => api.nodes.get('n1')!.status!.conditions!.find((c) => c.type === type)!;
  t.equal(cond('MemoryPressure').status, 'False');
  t.equal(cond('MemoryPressure').reason, 'KubeletHasSufficientMemory');

  signals = healthy();
  signals['memory.available'].available = 50 * Mi;
  signals['nodefs.available'].available = 1e9;
  await kl.nodeAgent!.updateStatus(); // not forced: a change of pressure is reported at once
  t.equal(cond('MemoryPressure').status, 'True');
  t.equal(cond('MemoryPressure').reason, 'KubeletHasInsufficientMemory');
  t.equal(cond('MemoryPressure').message, 'kubelet has insufficient memory available');
  t.equal(cond('DiskPressure').status, 'True');
  t.equal(cond('DiskPressure').reason, 'KubeletHasDiskPressure');
  t.equal(cond('PIDPressure').status, 'False');
  t.equal(cond('Ready').status, 'True', 'pressure alone does not make the node NotReady');

  signals = healthy();
  await kl.nodeAgent!.updateStatus();
  t.equal(cond('MemoryPressure').status, 'False', 'back to False once memory is available again');
  t.equal(cond('DiskPressure').reason, 'KubeletHasNoDiskPressure');
});
