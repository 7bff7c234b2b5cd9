// kts lab up | down | status: a whole cluster on this machine, nodes in network namespaces.
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { labDown } from './down.ts';
import { DEFAULT_OPTIONS, type LabOptions, type StoreKind } from './plan.ts';
import { pkiFiles } from './pki.ts';
import { isAlive } from './process.ts';
import { statePath } from './state.ts';
import { formatStatus, labStatus } from './status.ts';
import { labUp } from './up.ts';

function int(flag: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v)) throw new Error(`${flag}: "${v}" is not a whole number`);
    return Number(v);
  };
}

export async function main(argv: string[]): Promise<void> {
  const d = DEFAULT_OPTIONS;
  const say = (line: string) => console.log(line);
  const program = new Command('kts lab').description('bring a cluster up on this machine: control plane on the host, nodes in network namespaces')
    .exitOverride();
  program.command('up')
    .description('start the control plane and N nodes (idempotent: says so when the lab is already up)')
    .option('--nodes <n>', 'number of nodes', int('--nodes'), d.nodes)
    .option('--dir <dir>', 'state, certificates, logs and kubeconfig', d.dir)
    .option('--store <kind>', 'kts (our Raft etcd) or etcd (Debian etcd 3.4)', d.store)
    .option('--prefix <name>', 'node and netns names: <prefix>-n<i>', d.prefix)
    .option('--bridge <name>', 'host bridge the nodes sit on', d.bridge)
    .option('--node-cidr <cidr>', 'bridge network: host .1, node i at .(10+i)', d.nodeCidr)
    .option('--pod-cidr <cidr>', 'cluster pod range (/16): node i gets a.b.i.0/24', d.podCidr)
    .option('--service-cluster-ip-range <cidr>', 'ClusterIP range', d.serviceCidr)
    .option('--apiserver-port <port>', 'apiserver port (0: a free one)', int('--apiserver-port'), d.apiserverPort)
    .option('--etcd-port <port>', 'store client port on 127.0.0.1 (0: a free one)', int('--etcd-port'), d.etcdPort)
    .option('--etcd-peer-port <port>', 'store peer port on 127.0.0.1 (0: a free one)', int('--etcd-peer-port'), d.etcdPeerPort)
    .action(async (o: { nodes: number; dir: string; store: string; prefix: string; bridge: string; nodeCidr: string; podCidr: string;
      serviceClusterIpRange: string; apiserverPort: number; etcdPort: number; etcdPeerPort: number }) => {
      const opts: LabOptions = { dir: o.dir, nodes: o.nodes, store: o.store as StoreKind, prefix: o.prefix, bridge: o.bridge,
        nodeCidr: o.nodeCidr, podCidr: o.podCidr, serviceCidr: o.serviceClusterIpRange, apiserverPort: o.apiserverPort,
        etcdPort: o.etcdPort, etcdPeerPort: o.etcdPeerPort };
      const r = await labUp(opts, say).catch((err: Error) => {
        // Whatever was made is in lab.json; down undoes a half-finished up as well.
        if (!existsSync(statePath(o.dir))) throw err;
        throw new Error(`${err.message}\nthe lab is not up; clean up with: kts lab down --dir ${o.dir}`);
      });
      const kubeconfig = pkiFiles(r.state.plan).adminKubeconfig;
      if (r.alreadyUp && !r.state.ready) {
        throw new Error(`a lab in ${o.dir} did not finish coming up; run \`kts lab down --dir ${o.dir}\` first`);
      } else if (r.alreadyUp) {
        const dead = r.state.processes.filter((p) => !isAlive(p)).map((p) => p.name);
        say(`the lab is already up in ${o.dir} (${r.state.plan.nodes.length} nodes)${dead.length ? `, but these processes are dead: ${dead.join(', ')}` : ''}; see \`kts lab status --dir ${o.dir}\``);
      } else {
        say(`the lab is up: ${r.state.plan.nodes.map((n) => n.name).join(', ')}`);
      }
      say(`export KUBECONFIG=${kubeconfig}`);
    });
  program.command('down')
    .description('stop every lab process by PID and remove pods, namespaces, links, routes, cgroups and files')
    .option('--dir <dir>', 'the lab directory', d.dir)
    .action(async (o: { dir: string }) => {
      if (!(await labDown(o.dir, say))) say(`no lab in ${o.dir}`);
    });
  program.command('status')
    .description('each lab process alive or dead, and kubectl get nodes')
    .option('--dir <dir>', 'the lab directory', d.dir)
    .action(async (o: { dir: string }) => {
      const s = await labStatus(o.dir);
      if (!s) {
        say(`no lab in ${o.dir}`);
        process.exitCode = 1;
        return;
      }
      say(formatStatus(s));
      if (s.processes.some((p) => !p.alive)) process.exitCode = 1;
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'commander.help') process.exitCode = 2; // no subcommand: usage went to stderr
    if (code === 'commander.helpDisplayed' || code === 'commander.help' || code === 'commander.version') return;
    throw err;
  }
}
