import { once } from 'node:events';
import type { Socket } from 'node:net';
import { CldFrameSplitter } from '#cld';
import { type SocketAccess, UnixSocketServer } from '#service-kit/plain';
import { AgentLog, errorText } from '../core/log';
import type { CldDispatcher } from './cld-dispatch';
import { ConnectionFlow, DEFAULT_FLOW_LIMITS, type FlowLimits } from './flow-control';

/**
 * cld messages on a Unix stream socket, back to back with the sizes they have on the pipe (for
 * userspace servers and tests). Upcalls on one connection are handled concurrently, as the
 * kernel has many in flight; each reply is written whole. A frame whose cm_vers has no known
 * size leaves no way to find the next frame: that connection is closed, the others go on.
 *
 * Flow control: at `perConnection` upcalls in flight, or with more than `maxBufferedBytes` of
 * replies the peer has not read, the agent stops reading the connection until both clear. It
 * never answers an upcall with an error for being busy: the kernel would take -EREMOTEIO on a
 * Check as "no record" (NFS4ERR_RECLAIM_BAD), so a busy agent makes the upcall wait instead.
 */
export async function listenCldSocket(path: string, dispatcher: CldDispatcher, log: AgentLog, options: { access?: SocketAccess; limits?: FlowLimits } = {}): Promise<UnixSocketServer> {
  const limits = options.limits ?? DEFAULT_FLOW_LIMITS;
  const server = await UnixSocketServer.listen(path, (socket) => serveCldFrames(socket, dispatcher, log, limits), { access: options.access, onRefused: (m) => log.error(m) });
  log.info(`cld socket on ${path}`);
  return server;
}

function serveCldFrames(socket: Socket, dispatcher: CldDispatcher, log: AgentLog, limits: FlowLimits): void {
  const splitter = new CldFrameSplitter();
  let inFlight = 0;
  let broken = false;
  const flow = new ConnectionFlow(socket, limits);
  const send = async (frame: Buffer) => {
    if (socket.destroyed || socket.writableEnded) return;
    if (!flow.write(frame)) await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
  };
  socket.on('error', (err) => log.debug(`cld client: ${errorText(err)}`));
  socket.on('end', () => {
    const leftover = splitter.end();
    if (leftover) log.warn(`cld socket: ${leftover.message}`);
  });
  socket.on('data', (chunk: Buffer) => {
    const { frames, error } = splitter.push(chunk);
    for (const frame of frames) {
      inFlight++;
      flow.started();
      dispatcher.handle(frame, send)
        .catch((err: unknown) => log.error(`cld: ${errorText(err)}`))
        .finally(() => {
          flow.finished();
          // Upcalls before the unreadable frame are still answered, then the connection ends.
          if (--inFlight === 0 && broken) socket.end();
        });
    }
    if (error && !broken) {
      broken = true;
      log.warn(`cld socket: ${error.message}; closing this connection`);
      flow.stop();
      if (inFlight === 0) socket.end();
    }
  });
}
