// Benchmark (not a test): kube-proxy iptables-mode sync times for 1,000 and 10,000 services x 2 endpoints,
// each in a fresh network namespace, beside the raw `iptables-restore --noflush` of the same payload in another
// fresh namespace in the same run. Needs root.
//   first sync: folding N service + N slice adds into the model, one iptables-save, render, restore
//   full resync: the periodic full sync (render + restore over the rules in place), vs the raw restore repeated
//   endpoint change: one slice update -> partial sync (network programming latency for that change), beside the raw
//     restore of the same partial payload
//   full resync and endpoint change are repeated (--repeat, default 5) and reported as medians
//   npm run bench:proxy [-- --sizes 1000,10000 --variants legacy,nft --repeat 5] [--quick: skip the full resync pairs]
import { performance } from 'node:perf_hooks';
import { NetLab } from '../../agent/proxy/netlab.ts';
import { netnsExecutor } from '../../agent/proxy/exec.ts';
import { IptablesBackend } from '../../agent/proxy/iptables/backend.ts';
import { binaries, IptablesApplier } from '../../agent/proxy/iptables/apply.ts';
import type { IptablesVariant } from '../../agent/proxy/iptables/apply.ts';
import { render } from '../../agent/proxy/iptables/render.ts';
import { Proxier } from '../../agent/proxy/proxier.ts';
import { makeService, makeSlice } from '../../agent/proxy/fixtures.ts';
import { defaultNodeInfo } from '../../agent/proxy/types.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const sizes = arg('sizes', '1000,10000').split(',').map(Number);
const variants = arg('variants', 'legacy,nft').split(',') as IptablesVariant[];

const ip = (base: number, i: number) => `10.${base + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const service = (i: number) => makeService({ name: `svc-${i}`, clusterIP: ip(96, i + 1), type: i % 10 === 0 ? 'NodePort' : 'ClusterIP', ports: [{ name: 'http', port: 80, nodePort: i % 10 === 0 ? 30000 + (i / 10) % 2000 : undefined }] });
const slice = (i: number, second = 2) => makeSlice({ service: `svc-${i}`, ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: ip(200, 2 * i + 1), node: 'n1' }, { ip: ip(200, 2 * i + second), node: 'n2' }] });

const s = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

const labs = new Set<NetLab>();
// Interrupted (Ctrl-C, timeout): still delete the namespaces, which also ends the restores running in them.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => { void Promise.all([...labs].map((l) => l.cleanup())).finally(() => process.exit(130)); });
}
const quick = process.argv.includes('--quick');
const repeat = Number(arg('repeat', '5'));
const repeatGiven = process.argv.includes('--repeat');
const median = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); return v.length === 0 ? NaN : v[(v.length - 1) >> 1]!; };

async function one(variant: IptablesVariant, n: number): Promise<void> {
  const lab = new NetLab();
  labs.add(lab);
  try {
    const nsOurs = await lab.netns('b');
    const nsRaw = await lab.netns('r');
    const backend = new IptablesBackend({ exec: netnsExecutor(nsOurs), variant });
    // The reference namespace gets the same jump rules from the built-in chains (the kernel checks what they reach).
    await new IptablesApplier(netnsExecutor(nsRaw), variant).ensureJumps();
    const proxier = new Proxier({ nodeName: 'n1', node: defaultNodeInfo({ clusterCIDR: '10.200.0.0/14' }), backend, minSyncPeriodMs: 0, syncPeriodMs: 3_600_000 });
    for (let i = 0; i < n; i++) { proxier.service(null, service(i)); proxier.endpointSlice(null, slice(i)); }

    const [, full] = await timed(() => proxier.sync());
    const payload = backend.lastRender!.payload;
    const rules = payload.split('\n').filter((l) => l.startsWith('-A')).length;
    const [, renderOnly] = await timed(async () => render(proxier.state));
    const rawRestore = async () => {
      const r = await netnsExecutor(nsRaw).run(binaries(variant).restore, ['-w', '5', '--noflush', '--counters'], payload);
      if (r.exitCode !== 0) throw new Error(`raw restore failed: ${r.stderr}`);
    };
    const [, rawMs] = await timed(rawRestore);
    // Periodic full resync: everything rewritten over rules already in place, same for the raw reference. Single
    // runs at 1k services last ~0.1 s, where process start-up noise matters: alternate the pair and take medians
    // (one pair only when a run takes longer than 30 s, as nft does at 10k, unless --repeat is given).
    const resyncs: number[] = [];
    const rawResyncs: number[] = [];
    if (!quick) {
      for (let r = 0; r < repeat; r++) {
        const [, ours] = await timed(() => backend.sync({ state: proxier.state, changed: undefined }));
        await backend.idle();
        const [, raw] = await timed(rawRestore);
        resyncs.push(ours);
        rawResyncs.push(raw);
        if (ours > 30_000 && !repeatGiven) break;
      }
    }
    const resync = median(resyncs);
    const rawResync = median(rawResyncs);

    // One endpoint of one service changes: the partial sync (network programming for that change), beside the raw
    // restore of the same partial payload into the reference namespace (which holds the same chains): the floor the
    // backend sets (legacy iptables replaces the whole table on every restore, nf_tables applies the delta).
    const partials: number[] = [];
    const rawPartials: number[] = [];
    let partialLines = 0;
    for (let r = 0; r < repeat; r++) {
      const k = Math.floor(n / 2) + r;
      proxier.endpointSlice(slice(k), slice(k, 3));
      const [, partial] = await timed(() => proxier.sync());
      const partialPayload = backend.lastRender!.payload;
      partialLines = partialPayload.split('\n').length;
      const [, rawPartial] = await timed(async () => {
        const res = await netnsExecutor(nsRaw).run(binaries(variant).restore, ['-w', '5', '--noflush', '--counters'], partialPayload);
        if (res.exitCode !== 0) throw new Error(`raw partial restore failed: ${res.stderr}`);
      });
      partials.push(partial);
      rawPartials.push(rawPartial);
    }
    const partial = median(partials);
    const rawPartial = median(rawPartials);
    // A new service: KUBE-SERVICES changes too.
    proxier.service(null, service(n)); proxier.endpointSlice(null, slice(n));
    const [, addService] = await timed(() => proxier.sync());
    console.log([
      `${variant.padEnd(6)} ${String(n).padStart(6)} services: ${rules} rules`,
      `first sync ${s(full)} vs raw ${s(rawMs)} = ${(full / rawMs).toFixed(2)}x`,
      quick ? `full resync skipped (render ${s(renderOnly)})` : `full resync median of ${resyncs.length} ${s(resync)} (render ${s(renderOnly)}) vs raw ${s(rawResync)} = ${(resync / rawResync).toFixed(2)}x`,
      `endpoint change (partial, ${partialLines} payload lines) median ${s(partial)} max ${s(Math.max(...partials))} vs raw restore of that payload ${s(rawPartial)}`,
      `new service (partial + KUBE-SERVICES) ${s(addService)}`,
    ].join(' | '));
    proxier.stop();
  } finally {
    await lab.cleanup();
    labs.delete(lab);
  }
}

console.log(`kube-proxy iptables sync benchmark (${new Date().toISOString()}), each line in fresh namespaces`);
for (const variant of variants) for (const n of sizes) await one(variant, n);
