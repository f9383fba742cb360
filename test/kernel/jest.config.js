// The kernel suite (npm run test:kernel): one qemu boot of Debian's kernel runs every scenario
// of test/kernel/guest/scenarios; each scenario is one test here. Separate from `npm test`: it
// needs qemu and Debian's kernel (test/kernel/prepare.sh installs them) and takes minutes.
const base = require('../../jest.config.js');
const common = { ...base.projects[0] };
delete common.displayName;
delete common.testMatch;
module.exports = {
  ...common,
  rootDir: '../..',
  displayName: 'kernel',
  testMatch: ['<rootDir>/test/kernel/**/*.kernel-spec.ts'],
  modulePathIgnorePatterns: ['<rootDir>/.tmp/', '<rootDir>/dist/'],
  forceExit: true,
};
