/** The fail-closed start-up when the peer-credential addon is missing (the rest: unix-socket-server.int-spec.ts). */
describe('peer check without the addon', () => {
  afterEach(() => {
    jest.dontMock('node:fs');
    jest.resetModules();
  });

  it('refuses to open sockets, naming the fix, unless the check is turned off', () => {
    jest.isolateModules(() => {
      // As on a machine where `npm run build:native` failed: no built addon anywhere.
      jest.doMock('node:fs', () => ({ ...jest.requireActual<typeof import('node:fs')>('node:fs'), existsSync: (p: string) => !String(p).endsWith('peercred.node') && jest.requireActual<typeof import('node:fs')>('node:fs').existsSync(p) }));
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { assertPeerCheckPossible, socketAccess } = require('./socket-access') as typeof import('./socket-access');
      expect(() => assertPeerCheckPossible(socketAccess())).toThrow(/cannot check the peers of Unix sockets: the peer-credential addon \(native\/peercred\/build\/Release\/peercred\.node\) was not built: run npm run build:native .*GK_SOCKET_PEER_CHECK=off/);
      expect(() => assertPeerCheckPossible(socketAccess({ peerCheck: 'off' }))).not.toThrow();
    });
  });

  it('is possible here, where npm ci built the addon', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { assertPeerCheckPossible, socketAccess } = require('./socket-access') as typeof import('./socket-access');
    expect(() => assertPeerCheckPossible(socketAccess())).not.toThrow();
  });
});
