// CRI container log files ("<RFC3339Nano> <stdout|stderr> <P|F> <text>") read back as kubectl shows them:
// partial lines joined, optional timestamps, tail, since, byte limit, and follow.
import { open, stat } from 'node:fs/promises';

export interface LogOptions {
  timestamps?: boolean;
  tailLines?: number;
  sinceMs?: number;
  limitBytes?: number;
}

export interface LogRecord { time: string; stream: string; text: string }

/** Parses CRI log lines; joins P(artial) pieces with the following F line. Unparsable lines are passed through. */
export function parseCriLog(text: string): LogRecord[] {
  const out: LogRecord[] = [];
  let partial: LogRecord | undefined;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = /^(\S+) (stdout|stderr) ([PF])(?::\S*)? ?(.*)$/.exec(line);
    if (!m) {
      out.push({ time: '', stream: 'stdout', text: line });
      continue;
    }
    const [, time, stream, tag, content] = m as unknown as [string, string, string, string, string];
    if (partial && partial.stream === stream) partial.text += content;
    else {
      if (partial) out.push(partial);
      partial = { time, stream, text: content };
    }
    if (tag === 'F') {
      out.push(partial);
      partial = undefined;
    }
  }
  if (partial) out.push(partial);
  return out;
}

export function formatRecords(records: LogRecord[], o: LogOptions): string {
  let recs = records;
  if (o.sinceMs !== undefined) recs = recs.filter((r) => !r.time || Date.parse(r.time) >= o.sinceMs!);
  if (o.tailLines !== undefined && o.tailLines >= 0) recs = o.tailLines === 0 ? [] : recs.slice(-o.tailLines);
  return recs.map((r) => `${o.timestamps && r.time ? `${r.time} ` : ''}${r.text}\n`).join('');
}

/** The whole file formatted (no follow). */
export async function readLog(file: string, o: LogOptions): Promise<{ text: string; offset: number }> {
  const fh = await open(file, 'r');
  try {
    const buf = await fh.readFile();
    // Only complete lines; a trailing partial write is picked up by follow.
    const end = buf.lastIndexOf(0x0a) + 1;
    let text = formatRecords(parseCriLog(buf.subarray(0, end).toString()), o);
    if (o.limitBytes !== undefined) text = Buffer.from(text).subarray(0, o.limitBytes).toString();
    return { text, offset: end };
  } finally {
    await fh.close();
  }
}

/**
 * Streams new complete lines appended after `offset` until `stillRunning` says the container is gone
 * (after one last read) or `signal` aborts.
 */
export async function followLog(file: string, offset: number, o: LogOptions, write: (chunk: string) => void,
  stillRunning: () => Promise<boolean>, signal: AbortSignal, pollMs = 200): Promise<void> {
  let pos = offset;
  let carry = '';
  let checks = 0;
  while (!signal.aborted) {
    const size = await stat(file).then((s) => s.size, () => pos);
    if (size > pos) {
      const fh = await open(file, 'r');
      try {
        const buf = Buffer.alloc(size - pos);
        await fh.read(buf, 0, buf.length, pos);
        pos = size;
        const text = carry + buf.toString();
        const end = text.lastIndexOf('\n') + 1;
        carry = text.slice(end);
        const out = formatRecords(parseCriLog(text.slice(0, end)), { timestamps: o.timestamps });
        if (out) write(out);
      } finally {
        await fh.close();
      }
      continue;
    }
    if (++checks % 5 === 0 && !(await stillRunning())) return;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
