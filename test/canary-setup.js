// The secret canary's recorders for a test file (see test/canary.js): what the package logs where
// no logger was given (lib/logger.ts's silentLogger; the package writes nothing to the console,
// n8n's logger in the test contexts is recorded there), and the output items of the action nodes
// as a test runs them. Recorded texts are scanned when the file ends (test/environment.js).
'use strict';
const util = require('node:util');
const { record } = require('./canary');

const { silentLogger } = require('../lib/logger');
for (const level of ['debug', 'info', 'warn', 'error']) {
	silentLogger[level] = (message, meta) => record(`log (${level})`, meta === undefined ? message : `${message} ${util.inspect(meta, { depth: 4 })}`);
}

/** Each exported node class's execute(): its output items are recorded as the test receives them. */
function recordingOutputs(moduleExports) {
	for (const value of Object.values(moduleExports)) {
		const execute = typeof value === 'function' && value.prototype && value.prototype.execute;
		if (typeof execute !== 'function' || execute.__canary) continue;
		const wrapped = async function (...args) {
			const output = await execute.apply(this, args);
			record(`${value.name} output items`, output);
			return output;
		};
		wrapped.__canary = true;
		value.prototype.execute = wrapped;
	}
	return moduleExports;
}
jest.mock('../nodes/Mailbox/Mailbox.node', () => recordingOutputs(jest.requireActual('../nodes/Mailbox/Mailbox.node')));
jest.mock('../nodes/MailboxSend/MailboxSend.node', () => recordingOutputs(jest.requireActual('../nodes/MailboxSend/MailboxSend.node')));
jest.mock('../nodes/MailboxRouter/MailboxRouter.node', () => recordingOutputs(jest.requireActual('../nodes/MailboxRouter/MailboxRouter.node')));
