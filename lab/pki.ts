// The lab's certificates and kubeconfigs: a CA; the apiserver's serving pair for loopback, the bridge address
// and the first service IP; admin (system:masters) for the user; the controller-manager's client pair; the
// service-account signing pair; one client pair per kubelet and kube-proxy.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createCA, createClientCert, createServingCert, ensureServiceAccountKeys, kubeconfig, serviceAccountKeyPaths, type ServiceAccountKeyFiles } from '../control/pki/index.ts';
import type { LabPlan } from './plan.ts';

export interface LabPki {
  dir: string;
  caCert: string;
  servingCert: string;
  servingKey: string;
  adminKubeconfig: string;
  kubeletKubeconfig(node: string): string;
  /** The kubelet's serving pair, from the lab CA, valid for the node's name and address. */
  kubeletServing(node: string): { cert: string; key: string };
  /** The apiserver's client pair for talking to kubelets (--kubelet-client-certificate/-key). */
  apiserverKubeletClient: { cert: string; key: string };
  proxyKubeconfig(node: string): string;
  controllerManagerKubeconfig: string;
  /** The service-account token signing pair: files, so tokens outlive an apiserver restart. */
  serviceAccount: ServiceAccountKeyFiles;
}

export function pkiFiles(plan: LabPlan): LabPki {
  const dir = path.join(plan.options.dir, 'pki');
  return {
    dir, caCert: path.join(dir, 'ca.crt'), servingCert: path.join(dir, 'apiserver.crt'), servingKey: path.join(dir, 'apiserver.key'),
    adminKubeconfig: path.join(plan.options.dir, 'admin.kubeconfig'),
    kubeletKubeconfig: (node) => path.join(dir, `kubelet-${node}.kubeconfig`),
    kubeletServing: (node) => ({ cert: path.join(dir, `kubelet-${node}.crt`), key: path.join(dir, `kubelet-${node}.key`) }),
    apiserverKubeletClient: { cert: path.join(dir, 'apiserver-kubelet-client.crt'), key: path.join(dir, 'apiserver-kubelet-client.key') },
    proxyKubeconfig: (node) => path.join(dir, `proxy-${node}.kubeconfig`),
    controllerManagerKubeconfig: path.join(dir, 'controller-manager.kubeconfig'),
    serviceAccount: serviceAccountKeyPaths(dir),
  };
}

export async function writeLabPki(plan: LabPlan): Promise<LabPki> {
  const f = pkiFiles(plan);
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  const ca = await createCA('kts-lab-ca');
  const serving = await createServingCert(ca, { ips: ['127.0.0.1', plan.bridgeIP, plan.firstServiceIP] });
  writeFileSync(f.caCert, ca.certPem);
  writeFileSync(path.join(f.dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
  writeFileSync(f.servingCert, serving.certPem);
  writeFileSync(f.servingKey, serving.keyPem, { mode: 0o600 });
  const admin = await createClientCert(ca, 'kubernetes-admin', ['system:masters']);
  // Users and the controller-manager reach the apiserver on loopback.
  const loopback = `https://127.0.0.1:${plan.apiserverPort}`;
  writeFileSync(f.adminKubeconfig, kubeconfig({ server: loopback, caPem: ca.certPem,
    user: 'kubernetes-admin', client: admin, cluster: 'kts-lab' }), { mode: 0o600 });
  const kubeletClient = await createClientCert(ca, 'kube-apiserver-kubelet-client', ['system:masters']);
  writeFileSync(f.apiserverKubeletClient.cert, kubeletClient.certPem);
  writeFileSync(f.apiserverKubeletClient.key, kubeletClient.keyPem, { mode: 0o600 });
  ensureServiceAccountKeys(f.dir);
  const cm = await createClientCert(ca, 'system:kube-controller-manager');
  writeFileSync(f.controllerManagerKubeconfig, kubeconfig({ server: loopback, caPem: ca.certPem,
    user: 'system:kube-controller-manager', client: cm, cluster: 'kts-lab' }), { mode: 0o600 });
  // Node components reach the apiserver on the bridge address: kube-proxy runs inside the node's netns.
  const server = `https://${plan.bridgeIP}:${plan.apiserverPort}`;
  for (const n of plan.nodes) {
    const kubelet = await createClientCert(ca, `system:node:${n.name}`, ['system:nodes']);
    writeFileSync(f.kubeletKubeconfig(n.name), kubeconfig({ server, caPem: ca.certPem, user: `system:node:${n.name}`, client: kubelet, cluster: 'kts-lab' }), { mode: 0o600 });
    const serving = await createServingCert(ca, { commonName: n.name, dnsNames: [n.name], ips: [n.ip, plan.bridgeIP] });
    writeFileSync(f.kubeletServing(n.name).cert, serving.certPem);
    writeFileSync(f.kubeletServing(n.name).key, serving.keyPem, { mode: 0o600 });
    const proxy = await createClientCert(ca, 'system:kube-proxy');
    writeFileSync(f.proxyKubeconfig(n.name), kubeconfig({ server, caPem: ca.certPem, user: 'system:kube-proxy', client: proxy, cluster: 'kts-lab' }), { mode: 0o600 });
  }
  return f;
}
