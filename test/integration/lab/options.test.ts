// The lab's flags and plan, without root or network: bad flags are refused with the flag named, and the
// plan puts node i at <net>.(10+i) with pod CIDR a.b.i.0/24. (Pure; lives beside the lab's integration tests.)
import t from 'tap';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_OPTIONS, firstServiceIP, planLab, validateOptions, type LabOptions } from '../../../lab/plan.ts';

const run = promisify(execFile);
const KTS = path.resolve(import.meta.dirname, '../../../bin/kts');
const opts = (o: Partial<LabOptions>): LabOptions => ({ ...DEFAULT_OPTIONS, ...o });

t.test('the default plan matches the documented topology', async (t) => {
  const plan = planLab(opts({ nodes: 3 }), { apiserver: 6443, etcd: 2379, etcdPeer: 2380, kubelets: [40001, 40002, 40003] });
  t.equal(plan.bridgeIP, '10.250.0.1');
  t.equal(plan.firstServiceIP, '10.96.0.1');
  t.same(plan.nodes.map((n) => [n.name, n.netns, n.hostVeth, n.ip, n.podCidr, n.cgroupRoot, n.kubeletPort]), [
    ['kts-lab-n1', 'kts-lab-n1', 'ktslab0-n1', '10.250.0.11', '10.244.1.0/24', '/kts-lab-n1', 40001],
    ['kts-lab-n2', 'kts-lab-n2', 'ktslab0-n2', '10.250.0.12', '10.244.2.0/24', '/kts-lab-n2', 40002],
    ['kts-lab-n3', 'kts-lab-n3', 'ktslab0-n3', '10.250.0.13', '10.244.3.0/24', '/kts-lab-n3', 40003],
  ]);
  t.equal(plan.nodes[1]!.dir, '/var/lib/kts-lab/nodes/n2');
});

t.test('first service IP of other ranges', async (t) => {
  t.equal(firstServiceIP('10.32.0.0/16'), '10.32.0.1');
  t.equal(firstServiceIP('172.20.5.7/24'), '172.20.5.1');
});

t.test('bad options are refused, naming the flag', async (t) => {
  const bad: [Partial<LabOptions>, RegExp][] = [
    [{ nodes: 0 }, /--nodes/],
    [{ store: 'zookeeper' as LabOptions['store'] }, /--store: "zookeeper"/],
    [{ dir: 'relative/dir' }, /--dir: .* absolute/],
    [{ prefix: 'Bad_Name' }, /--prefix/],
    [{ bridge: 'a-very-long-bridge' }, /--bridge/],
    [{ nodeCidr: '10.250.0.0/28' }, /--node-cidr: .*\/24 or larger/],
    [{ nodeCidr: '10.250.0.300/24' }, /--node-cidr: .*not an IPv4 CIDR/],
    [{ podCidr: '10.244.0.0/24' }, /--pod-cidr: .*\/16/],
    [{ serviceCidr: 'ten' }, /--service-cluster-ip-range/],
    [{ apiserverPort: 70000 }, /--apiserver-port/],
  ];
  for (const [o, msg] of bad) t.throws(() => validateOptions(opts(o)), msg, JSON.stringify(o));
});

t.test('the CLI reports a bad flag and makes nothing', async (t) => {
  const err = await run(KTS, ['lab', 'up', '--dir', '/nonexistent-kts-lab', '--pod-cidr', '10.0.0.0/8'], { timeout: 60_000 })
    .then(() => undefined, (e: { code: number; stderr: string }) => e);
  t.ok(err, 'up fails');
  t.equal(err?.code, 1);
  t.match(err?.stderr, /kts lab: --pod-cidr: "10.0.0.0\/8" must be a \/16/);
  t.notMatch(err?.stderr, /kts lab down/, 'no clean-up hint when nothing was made');
  const status = await run(KTS, ['lab', 'status', '--dir', '/nonexistent-kts-lab']).then(() => 0, (e: { code: number; stdout: string }) => e);
  t.match(status, { code: 1, stdout: /no lab in \/nonexistent-kts-lab/ }, 'status of no lab says so and fails');
});
