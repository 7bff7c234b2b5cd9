// One polling helper for tests that wait on real processes, sockets and timers: call `fn` until it yields a
// truthy value (which is returned) or the time is up. Polls fast at first, then every 250 ms, so quick
// conditions resolve at once and slow ones (kubectl, containerd) are not hammered. An error thrown by `fn`
// counts as "not yet"; the last one is named in the timeout message.
export async function until<T>(what: string, fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 60_000, detail?: () => string): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastError = '';
  for (let delay = 5; ; delay = Math.min(delay * 2, 250)) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError}` : ''}${detail ? `\n${detail()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
