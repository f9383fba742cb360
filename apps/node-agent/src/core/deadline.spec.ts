import type { Admission } from '#cluster-store';
import { RequestTimeout, withDeadline } from './deadline';

/** A queue slot the test controls: started or not, settled when the test says. */
function slot() {
  let admission!: Admission;
  let resolve!: (v: string) => void;
  let reject!: (e: unknown) => void;
  const submit = (a: Admission) => {
    admission = a;
    return new Promise<string>((res, rej) => {
      resolve = res;
      reject = rej;
      a.signal?.addEventListener('abort', () => rej(a.signal!.reason), { once: true });
    });
  };
  return { submit, start: () => admission.onStart?.(), resolve: (v: string) => resolve(v), reject: (e: unknown) => reject(e), aborted: () => admission.signal?.aborted };
}

describe('withDeadline', () => {
  it('answers RequestTimeout and withdraws the queued command when nothing was offered', async () => {
    const s = slot();
    const answer = withDeadline(20, 'create', (d) => d.track(s.submit));
    await expect(answer).rejects.toBeInstanceOf(RequestTimeout);
    expect(s.aborted()).toBe(true);
  });

  it('a command offered before the deadline gets its real outcome, however late', async () => {
    const s = slot();
    const answer = withDeadline(20, 'reclaim', (d) => d.track(s.submit));
    s.start();
    await new Promise((r) => setTimeout(r, 60));
    expect(s.aborted()).toBe(false);
    s.resolve('OK');
    await expect(answer).resolves.toBe('OK');
  });

  it('once one command was offered, the rest of the request runs to its end', async () => {
    const first = slot();
    const second = slot();
    const answer = withDeadline(20, 'grace_start', async (d) => {
      const a = d.track(first.submit);
      first.start();
      await new Promise((r) => setTimeout(r, 50)); // the first append outlives the deadline
      first.resolve('started');
      const b = d.track(second.submit);
      second.start();
      second.resolve('lifted');
      return `${await a} ${await b}`;
    });
    await expect(answer).resolves.toBe('started lifted');
  });
});
