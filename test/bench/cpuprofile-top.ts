// Reads a .cpuprofile (node --cpu-prof) and prints the functions with the most self time, then the longest
// stretches where the event loop never went idle (what a request waiting on that member sat behind).
// Usage: node test/bench/cpuprofile-top.ts <file.cpuprofile> [rows]
import fs from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; startTime: number; samples: number[]; timeDeltas: number[] }

const [file, rowsArg] = process.argv.slice(2);
if (!file) { console.error('usage: cpuprofile-top.ts <file.cpuprofile> [rows]'); process.exit(2); }
const rows = Number(rowsArg ?? 30);
const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/.*\/(main|node_modules)\//, '')}:${n.callFrame.lineNumber}`;

const self = new Map<string, number>();
let total = 0;
p.samples.forEach((id, i) => {
  const us = p.timeDeltas[i] ?? 0;
  total += us;
  const k = label(byId.get(id)!);
  self.set(k, (self.get(k) ?? 0) + us);
});
console.log(`total ${(total / 1000).toFixed(0)} ms`);
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
  console.log(`${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
}

// inclusive time: every function on a sample's stack (once per sample) gets the sample's time
const inclusive = new Map<string, number>();
p.samples.forEach((id, i) => {
  const us = p.timeDeltas[i] ?? 0;
  const seen = new Set<string>();
  for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
    const n = byId.get(x)!;
    if (n.callFrame.functionName === '(root)') break;
    const k = label(n);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + us);
  }
});
console.log('\ninclusive (self + callees):');
for (const [k, us] of [...inclusive].filter(([k]) => !k.startsWith('(')).sort((a, b) => b[1] - a[1]).slice(0, rows)) {
  console.log(`${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
}

// busy stretches: consecutive non-idle samples
interface Run { start: number; end: number; ids: number[] }
const runs: Run[] = [];
let t = p.startTime;
let cur: Run | null = null;
p.samples.forEach((id, i) => {
  t += p.timeDeltas[i] ?? 0;
  if (byId.get(id)!.callFrame.functionName !== '(idle)') {
    cur ??= { start: t, end: t, ids: [] };
    cur.end = t;
    cur.ids.push(id);
  } else if (cur) { runs.push(cur); cur = null; }
});
if (cur) runs.push(cur);
console.log('\nlongest busy stretches (top JS stacks inside):');
for (const r of runs.sort((a, b) => (b.end - b.start) - (a.end - a.start)).slice(0, 8)) {
  const stacks = new Map<string, number>();
  for (const id of r.ids) {
    const chain: string[] = [];
    for (let x: number | undefined = id; x !== undefined && chain.length < 4; x = parent.get(x)) {
      const f = byId.get(x)!.callFrame.functionName;
      if (f && !f.startsWith('(')) chain.push(f);
    }
    const k = chain.join(' < ') || '(native)';
    stacks.set(k, (stacks.get(k) ?? 0) + 1);
  }
  const top = [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, n]) => `${n}x ${k}`).join(' | ');
  console.log(`${((r.end - r.start) / 1000).toFixed(0).padStart(6)} ms at +${((r.start - p.startTime) / 1e6).toFixed(1)} s: ${top}`);
}
