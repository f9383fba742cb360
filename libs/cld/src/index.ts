/**
 * Linux nfsd's cld upcall protocol (versions 1 and 2): a byte-exact codec for the agent's
 * side (decodeRequest / encodeReply), the kernel's side for tests and simulators
 * (encodeUpcall / decodeDowncall), and a framer for carrying the messages on a stream socket.
 */
export * from './byte-order';
export * from './constants';
export * from './framer';
export * from './kernel-side';
export * from './reply';
export * from './request';
