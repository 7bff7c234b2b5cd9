// A TCP forwarder from an address inside a node's network (e.g. the host side of its link) to the apiserver on
// the host's loopback: a node network namespace has its own loopback, so agents inside it reach the API the
// way a lab node reaches it over the bridge.
import net from 'node:net';

export interface Forward { url: string; close(): void }

/** Listen on hostIP (a free port) and forward to target; url is http://hostIP:port. */
export async function forwardToApiserver(hostIP: string, target: URL): Promise<Forward> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(Number(target.port), target.hostname);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { down.destroy(); up.destroy(); });
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((resolve, reject) => server.listen(0, hostIP, resolve).once('error', reject));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `http://${hostIP}:${port}`, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}
