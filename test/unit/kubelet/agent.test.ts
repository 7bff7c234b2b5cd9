// `kts agent`: its argv splits into the kubelet's flags and kube-proxy's at `--`, and it is a CLI command.
import t from 'tap';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { splitAgentArgs } from '../../../agent/kubelet/agent.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

t.test('kubelet flags before --, kube-proxy flags after', async (t) => {
  t.same(splitAgentArgs(['--kubeconfig', 'k', '--', '--kubeconfig', 'p', '--proxy-mode', 'ipvs']),
    { kubelet: ['--kubeconfig', 'k'], proxy: ['--kubeconfig', 'p', '--proxy-mode', 'ipvs'] });
  t.same(splitAgentArgs(['--node-ip', '10.0.0.1']), { kubelet: ['--node-ip', '10.0.0.1'], proxy: [] }, 'no -- means no proxy flags');
  t.same(splitAgentArgs(['--', '--a', '--', '--b']), { kubelet: [], proxy: ['--a', '--', '--b'] }, 'only the first -- splits');
});

t.test('kts agent is listed and answers --help', async (t) => {
  const run = promisify(execFile);
  const list = await run(path.join(ROOT, 'bin/kts'), ['--help']);
  t.match(list.stdout, /\n {2}agent\s+kubelet and kube-proxy in one process/);
  const help = await run(path.join(ROOT, 'bin/kts'), ['agent', '--help']);
  t.match(help.stdout, /usage: kts agent <kubelet flags> -- <kube-proxy flags>/);
});
