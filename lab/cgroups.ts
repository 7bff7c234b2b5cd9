// Each node's pods live under its own cgroup root (/<prefix>-n<i>) in every v1 hierarchy of the host
// (linux-host-facts P4); `down` removes those trees depth-first once their tasks have exited.
import { existsSync } from 'node:fs';
import { readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';

const HIERARCHIES = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'unified'];

export async function removeCgroupTree(root: string): Promise<void> {
  for (const h of HIERARCHIES) await removeDir(path.join('/sys/fs/cgroup', h, root));
}

async function removeDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) await removeDir(path.join(dir, e.name));
  }
  for (let i = 0; i < 50; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      await new Promise((r) => setTimeout(r, 100)); // EBUSY while the last task exits
    }
  }
}
