import { createServiceLogger } from '#service-kit';
import { agentLog } from './log';

describe('agentLog', () => {
  it('writes a message holding a forged client id as one JSON record, escaped', () => {
    const written: string[] = [];
    const logger = createServiceLogger('node-agent', { format: 'json', level: 'info', destination: { write: (line: string) => written.push(line) } });
    agentLog(logger.child({ context: 'node-agent c/a' })).warn('create client=ab\nZ ERROR [node-agent c/b] forged\x1b]0;title\x07');
    expect(written).toHaveLength(1);
    expect(written[0]!.endsWith('\n')).toBe(true);
    expect(written[0]!.slice(0, -1)).not.toMatch(/[\n\x1b\x07]/);
    const record = JSON.parse(written[0]!) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 'warn', service: 'node-agent', context: 'node-agent c/a', msg: 'create client=ab\\nZ ERROR [node-agent c/b] forged\\x1b]0;title\\x07' });
  });

  it('drops debug records unless the level asks for them', () => {
    const written: string[] = [];
    const log = agentLog(createServiceLogger('node-agent', { format: 'json', level: 'info', destination: { write: (line: string) => written.push(line) } }));
    log.debug('cld client: reset');
    log.info('JSON API on /run/gk/agent.sock');
    expect(written.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['JSON API on /run/gk/agent.sock']);
  });
});
