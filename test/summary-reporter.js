/**
 * Records each jest run's counts. With MAILBOX_TEST_SUMMARY set (scripts/test.js sets it), the
 * counts are appended to that file as one JSON line, so the whole test run can end with one total.
 */
const fs = require('node:fs');

class SummaryReporter {
	onRunComplete(_contexts, results) {
		const layers = [...new Set(results.testResults.map((r) => r.displayName?.name).filter(Boolean))];
		const counts = {
			layer: layers.join('+') || 'jest',
			passed: results.numPassedTests,
			failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
			skipped: results.numPendingTests + results.numTodoTests,
		};
		if (process.env.MAILBOX_TEST_SUMMARY) fs.appendFileSync(process.env.MAILBOX_TEST_SUMMARY, `${JSON.stringify(counts)}\n`);
	}
}
module.exports = SummaryReporter;
