import { configWithoutCloudSupport } from '@n8n/node-cli/eslint';

export default [
	...configWithoutCloudSupport,
	{
		// n8n's community-node rules forbid runtime dependencies because packages verified for
		// n8n Cloud must be dependency-free. This package talks IMAP, POP3, SMTP and EWS over
		// net/tls with the established mail libraries, so it can never be a Cloud package; it is
		// installed on self-hosted n8n, where dependencies are allowed. Only this rule is off.
		files: ['package.json'],
		rules: {
			'@n8n/community-nodes/no-runtime-dependencies': 'off',
		},
	},
	{
		// Test servers, benchmarks and scripts are not part of the published package.
		ignores: ['test/**', 'bench/**', 'scripts/**', 'coverage/**', 'jest.config.js'],
	},
];
