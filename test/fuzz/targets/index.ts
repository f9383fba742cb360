import type { FuzzTarget } from '../harness';
import { cldFrames } from './cld-frames';
import { eventEnvelopes } from './event-envelopes';
import { gkCltrack } from './gk-cltrack';
import { gkCltrackNative } from './gk-cltrack-native';
import { gracectl } from './gracectl';
import { heartbeats } from './heartbeats';
import { jsonLines } from './json-lines';
import { restBodies } from './rest-bodies';

/** Every decoder and interface that takes input from outside a process (issue 10, item 2). */
export const FUZZ_TARGETS: FuzzTarget<never>[] = [cldFrames, jsonLines, gkCltrack, gkCltrackNative, gracectl, restBodies, eventEnvelopes, heartbeats] as FuzzTarget<never>[];
