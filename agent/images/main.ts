// kts images build --output DIR | kts images import --address SOCKET [--dir DIR]
import { Command } from 'commander';
import { buildImages, DEFAULT_BUSYBOX } from './build.ts';
import { importImages } from './import.ts';

export const DEFAULT_IMAGE_DIR = '/var/lib/kts/images';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('kts images').exitOverride();
  program.command('build')
    .description('write pause.tar and busybox.tar (OCI image layouts) built from busybox-static')
    .option('--output <dir>', 'directory for the tarballs', DEFAULT_IMAGE_DIR)
    .option('--busybox <path>', 'static busybox binary', DEFAULT_BUSYBOX)
    .action(async (o: { output: string; busybox: string }) => {
      for (const w of await buildImages(o.output, o.busybox)) console.log(`${w.name}\t${w.path}`);
    });
  program.command('import')
    .description('import the tarballs into containerd (namespace k8s.io)')
    .requiredOption('--address <socket>', 'containerd socket (absolute path)')
    .option('--dir <dir>', 'directory holding the tarballs', DEFAULT_IMAGE_DIR)
    .action(async (o: { address: string; dir: string }) => {
      for (const f of await importImages(o.address, o.dir)) console.log(`imported ${f}`);
    });
  await program.parseAsync(argv, { from: 'user' });
}
