// A minimal ustar writer: regular files, directories and symlinks, fixed owner and mtime so that
// the same input always yields the same bytes (and so the same image digests).

export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink';
  mode?: number;
  data?: Buffer;
  linkname?: string;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function splitName(name: string): { name: string; prefix: string } {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: '' };
  const cut = name.lastIndexOf('/', name.length - 2);
  const prefix = name.slice(0, cut);
  const rest = name.slice(cut + 1);
  if (cut <= 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(rest) > 100) {
    throw new Error(`tar: path too long for ustar: ${name}`);
  }
  return { name: rest, prefix };
}

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const { name, prefix } = splitName(e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name);
  h.write(name, 0, 100);
  const mode = e.mode ?? (e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644);
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(0, 12), 136);
  h.write('        ', 148); // checksum is computed with this field as spaces
  h.write(e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : '0', 156);
  if (e.linkname) h.write(e.linkname, 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write('root', 265, 32);
  h.write('root', 297, 32);
  h.write(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

export function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === 'file' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    parts.push(header(e, data.length));
    if (data.length) {
      parts.push(data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** Reads back the names and types of a tar (used by tests to check what was written). */
export function listTar(buf: Buffer): { name: string; type: string; size: number; linkname: string; data: Buffer }[] {
  const out = [];
  let off = 0;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const str = (s: number, n: number) => h.subarray(s, s + n).toString().replace(/\0.*$/s, '');
    const prefix = str(345, 155);
    const name = prefix ? `${prefix}/${str(0, 100)}` : str(0, 100);
    const size = parseInt(str(124, 12), 8);
    const type = str(156, 1);
    out.push({ name, type, size, linkname: str(157, 100), data: buf.subarray(off + BLOCK, off + BLOCK + size) });
    off += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}
