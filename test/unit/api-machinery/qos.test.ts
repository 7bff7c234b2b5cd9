import t from 'tap';
import type { V1Container } from '@kubernetes/client-node';
import { podQOSClass } from '../../../api/qos.ts';

const c = (name: string, requests?: Record<string, string>, limits?: Record<string, string>): V1Container =>
  ({ name, image: 'busybox', resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) } });
const pod = (containers: V1Container[], initContainers?: V1Container[]) => ({ spec: { containers, initContainers } });

t.test('BestEffort when no container sets cpu or memory', async (t) => {
  t.equal(podQOSClass(pod([c('a'), c('b')])), 'BestEffort');
  t.equal(podQOSClass(pod([c('a', { 'ephemeral-storage': '1Gi' }, { 'nvidia.com/gpu': '1' })])), 'BestEffort');
  t.equal(podQOSClass(pod([c('a', { cpu: '0' }, { memory: '0' })])), 'BestEffort');
  t.equal(podQOSClass({}), 'BestEffort');
});

t.test('Guaranteed when every container has equal cpu and memory requests and limits', async (t) => {
  t.equal(podQOSClass(pod([c('a', { cpu: '1', memory: '1Gi' }, { cpu: '1000m', memory: '1024Mi' })])), 'Guaranteed');
  // requests default to limits
  t.equal(podQOSClass(pod([c('a', undefined, { cpu: '500m', memory: '128Mi' })])), 'Guaranteed');
  t.equal(podQOSClass(pod([c('a', undefined, { cpu: '1', memory: '1Gi' })], [c('i', undefined, { cpu: '1', memory: '1Gi' })])), 'Guaranteed');
});

t.test('Burstable otherwise', async (t) => {
  t.equal(podQOSClass(pod([c('a', { cpu: '100m' })])), 'Burstable');
  t.equal(podQOSClass(pod([c('a', { cpu: '500m', memory: '1Gi' }, { cpu: '1', memory: '1Gi' })])), 'Burstable');
  t.equal(podQOSClass(pod([c('a', undefined, { cpu: '1' })])), 'Burstable', 'memory limit missing');
  t.equal(podQOSClass(pod([c('a', undefined, { cpu: '1', memory: '1Gi' }), c('b')])), 'Burstable', 'one container unbounded');
  t.equal(podQOSClass(pod([c('a', undefined, { cpu: '1', memory: '1Gi' })], [c('init', { cpu: '1' })])), 'Burstable',
    'init containers count');
});

t.test('unparsable quantities do not throw', async (t) => {
  t.equal(podQOSClass(pod([c('a', { cpu: 'lots' })])), 'BestEffort');
});
