import { recordingLogger } from '#testing';
import { handleStopSignals } from './lifecycle';
import { noteStopReason } from './stop-reason';

const emit = (process.emit as (event: string, ...args: unknown[]) => boolean).bind(process);

describe('handleStopSignals', () => {
  it('logs the signal and that its sender is not known, stops, then exits 0 with a last record', async () => {
    const { logger, records } = recordingLogger('client-registry');
    const exits: number[] = [];
    let stopped = false;
    const handling = handleStopSignals(logger, async () => void (stopped = true), { exit: (code) => void exits.push(code) });
    try {
      emit('SIGTERM', 'SIGTERM');
      await new Promise((r) => setImmediate(r));
      expect(stopped).toBe(true);
      expect(exits).toEqual([0]);
      emit('exit', 0);
      expect(records().map((r) => [r.level, r.msg])).toEqual([
        ['info', `stopping: SIGTERM received (sent by another process; Node does not tell which; parent pid ${process.ppid})`],
        ['info', 'stopped (exit code 0)'],
      ]);
      expect(records()[0]).toMatchObject({ signal: 'SIGTERM', sender: 'another process' });
    } finally {
      handling.uninstall();
    }
  });

  it('names the sender when our own code noted why it signalled (the launcher watch)', async () => {
    const { logger, records } = recordingLogger();
    const handling = handleStopSignals(logger, async () => undefined, { exit: () => undefined });
    try {
      noteStopReason('SIGTERM', 'the launcher is gone (its pipe to us closed)');
      emit('SIGTERM', 'SIGTERM');
      expect(records()[0]).toMatchObject({ msg: 'stopping: SIGTERM received (the launcher is gone (its pipe to us closed))', sender: 'the launcher is gone (its pipe to us closed)' });
    } finally {
      handling.uninstall();
    }
  });

  it('exits at once on a second signal, and with 1 when stopping fails or hangs', async () => {
    const { logger, records } = recordingLogger();
    const exits: number[] = [];
    const handling = handleStopSignals(logger, () => new Promise<void>(() => undefined), { exit: (code) => void exits.push(code), graceMs: 50 });
    try {
      emit('SIGINT', 'SIGINT');
      emit('SIGINT', 'SIGINT');
      expect(exits).toEqual([130]);
      await new Promise((r) => setTimeout(r, 120));
      expect(exits).toEqual([130, 1]);
      expect(records().map((r) => r.msg)).toEqual([expect.stringMatching(/^stopping: SIGINT received/), 'SIGINT again while stopping: exiting now', 'did not stop within 50 ms: exiting']);
    } finally {
      handling.uninstall();
    }
    const failing = recordingLogger();
    const failingExits: number[] = [];
    const second = handleStopSignals(failing.logger, async () => { throw new Error('close failed'); }, { exit: (code) => void failingExits.push(code) });
    try {
      emit('SIGHUP', 'SIGHUP');
      await new Promise((r) => setImmediate(r));
      expect(failingExits).toEqual([1]);
      expect(failing.records()[1]).toMatchObject({ level: 'error', msg: 'stopping failed', err: { message: 'close failed' } });
    } finally {
      second.uninstall();
    }
  });

  it('logs any other exit with its code as an error', () => {
    const { logger, records } = recordingLogger();
    const handling = handleStopSignals(logger, async () => undefined, { exit: () => undefined });
    try {
      emit('exit', 2);
      expect(records()).toEqual([expect.objectContaining({ level: 'error', msg: 'exiting with code 2', exitCode: 2 })]);
    } finally {
      handling.uninstall();
    }
  });
});
