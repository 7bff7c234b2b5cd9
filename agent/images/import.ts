// Loads OCI tarballs into a containerd through its native socket, in the k8s.io namespace where
// the CRI plugin looks for images.
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function importImages(address: string, dir: string, ctr = 'ctr'): Promise<string[]> {
  if (!path.isAbsolute(address)) throw new Error(`containerd address "${address}" must be an absolute socket path`);
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.tar')).sort();
  } catch (err) {
    throw new Error(`cannot read image directory ${dir}: ${(err as Error).message}`);
  }
  if (files.length === 0) throw new Error(`no .tar images in ${dir} (run kts images build --output ${dir} first)`);
  const imported = [];
  for (const f of files) {
    const file = path.join(dir, f);
    try {
      await run(ctr, ['-a', address, '-n', 'k8s.io', 'images', 'import', file]);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`ctr import ${file} into ${address} failed: ${(e.stderr || e.message).trim()}`);
    }
    imported.push(file);
  }
  return imported;
}
