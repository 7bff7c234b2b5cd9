// kts pki: write a cluster CA, the apiserver serving pair, an admin client pair and admin.kubeconfig into a folder.
import { Command } from 'commander';
import { writePki } from './index.ts';

export async function main(argv: string[]): Promise<void> {
  const cmd = new Command('kts pki')
    .description('create a CA, apiserver serving certificate and admin kubeconfig')
    .option('--dir <dir>', 'where to write the files', '/var/lib/kts/pki')
    .option('--server <url>', 'apiserver URL written into admin.kubeconfig', 'https://127.0.0.1:6443')
    .option('--ip <ips>', 'extra IP addresses for the serving certificate (comma-separated)', '')
    .option('--dns <names>', 'extra DNS names for the serving certificate (comma-separated)', '')
    .exitOverride();
  cmd.parse(argv, { from: 'user' });
  const o = cmd.opts<{ dir: string; server: string; ip: string; dns: string }>();
  const split = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
  const files = await writePki(o.dir, { server: o.server, ips: split(o.ip), dnsNames: split(o.dns) });
  console.log(`wrote ${files.caCert}, ${files.servingCert}, ${files.adminCert} and ${files.adminKubeconfig}`);
}
