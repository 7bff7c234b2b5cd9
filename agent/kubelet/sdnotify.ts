// sd_notify: tell systemd (Type=notify) that the kubelet is ready. Node has no unix datagram sockets,
// so this goes through systemd-notify, which needs NotifyAccess=all in the unit.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Returns false when not started by systemd (no NOTIFY_SOCKET) or when notifying failed. */
export async function notifyReady(status = 'kubelet registered', env = process.env): Promise<boolean> {
  if (!env.NOTIFY_SOCKET) return false;
  try {
    await run('systemd-notify', ['--ready', `--status=${status}`, `--pid=${process.pid}`], { env, timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}
