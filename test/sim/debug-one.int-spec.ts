import { testNatsUrl, testStreamNames } from '../support/env';
import { runRandomSchedule, describeFailure } from './random-schedule';
it('one', async () => {
  const seed = Number(process.env.SEED ?? 1);
  const p = runRandomSchedule({ seed, natsUrl: testNatsUrl(), names: testStreamNames('dbg'), agents: 'in-process' });
  const r = await p;
  console.log(JSON.stringify(r.stats), describeFailure(r));
}, 50_000);
