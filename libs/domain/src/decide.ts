import { decideAdmin } from './decide-admin';
import { decideNode } from './decide-node';
import { Command, Outcome } from './commands';
import { ClusterState } from './state';

/** decide(command, state) → events | rejection. Pure: it reads the state and never changes it. */
export function decide(command: Command, state: ClusterState): Outcome {
  switch (command.type) {
    case 'create':
    case 'removeClients':
    case 'reclaim':
    case 'reclaimComplete':
    case 'mayGrant':
      return decideNode(command, state);
    default:
      return decideAdmin(command, state);
  }
}
