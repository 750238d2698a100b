/**
 * Three layers, each a jest project: `npm run test:unit|test:integration|test:e2e` (after
 * `npm run test:setup`, which `npm test` runs first).
 *
 * Timeouts are there to end a test that hangs, not to measure speed: they are generous, so a
 * machine with both cores busy passes the same tests (hooks get the same bound as tests). The test
 * environment stops whatever a test file started and left running (test/environment.js).
 */
const common = {
	preset: 'ts-jest',
	testEnvironment: '<rootDir>/test/environment.js',
	setupFilesAfterEnv: ['<rootDir>/test/timeout.js', '<rootDir>/test/canary-setup.js'],
	transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json', }] },
};
/** Each layer's timeout for tests and hooks (jest reads `testTimeout` only globally; test/timeout.js applies this). */
const timeout = (ms) => ({ testEnvironmentOptions: { timeoutMs: ms } });

module.exports = {
	reporters: ['default', '<rootDir>/test/summary-reporter.js'],
	projects: [
		{ ...common, displayName: 'unit', ...timeout(30_000), testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
		{ ...common, displayName: 'integration', ...timeout(120_000), testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
		{ ...common, displayName: 'e2e', ...timeout(15 * 60_000), testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
	],
};
