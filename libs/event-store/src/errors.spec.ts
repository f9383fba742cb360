import { JetStreamApiError } from '@nats-io/jetstream';
import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import { actualFromDescription, isTransient, isWrongLastSequence } from './errors';

const apiError = (err_code: number, code: number, description: string) => new JetStreamApiError({ err_code, code, description });

describe('JetStream error classification', () => {
  it('recognises a wrong last sequence and reads the actual sequence from 2.9\'s description', () => {
    const err = apiError(10071, 400, 'wrong last sequence: 1000');
    expect(isWrongLastSequence(err)).toBe(true);
    expect(actualFromDescription(err.message)).toBe(1000);
    expect(actualFromDescription('wrong last sequence')).toBeUndefined();
    expect(isTransient(err)).toBe(false);
  });

  it('retries timeouts, no responders and 503s, nothing else', () => {
    expect(isTransient(new TimeoutError())).toBe(true);
    expect(isTransient(apiError(10163, 503, 'unavailable'))).toBe(true);
    expect(isTransient(apiError(10008, 503, 'jetstream not in clustered mode'))).toBe(true);
    // What js.publish throws when nothing answers: JetStreamNotEnabled caused by a no-responders RequestError.
    const request = new RequestError('no responders', { cause: new NoRespondersError('gk.cluster.a') });
    const notEnabled = new Error('jetstream is not enabled', { cause: request });
    notEnabled.name = 'JetStreamNotEnabled';
    expect(isTransient(notEnabled)).toBe(true);
    expect(isTransient(request)).toBe(true);
    expect(isTransient(new RequestError('cancelled'))).toBe(false);
    expect(isTransient(apiError(10059, 404, 'stream not found'))).toBe(false);
    expect(isTransient(new Error('boom'))).toBe(false);
  });
});
