/**
 * `npm run test:setup` (and the first step of `npm test`): installs what the tests need from
 * outside npm when it is missing, and says what it did and how long it took.
 */
import { installPrerequisites } from './prerequisites';

const t0 = Date.now();
try {
	const steps = installPrerequisites((line) => process.stdout.write(`${line}\n`));
	const installed = steps.filter((s) => s.result !== 'present').length;
	process.stdout.write(`setup: ${installed ? `${installed} installed` : 'everything present'} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
} catch (error) {
	process.stderr.write(`setup: FAILED: ${(error as Error).message}\n`);
	process.exit(1);
}
