/**
 * The set-up the e2e test files share around test/e2e/n8n.ts: a teardown that stops whatever a
 * `beforeAll` started, in reverse order, even when the `beforeAll` failed half-way; n8n with this
 * package installed; the workflow of a trigger and a NoOp; the trigger's runs as the tests read
 * them; and the credential dialog's "Connect my account" with a browser at a local authority.
 */
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { checkN8n, isFinished, N8n, packPackage, REQUEST_TIMEOUT_MS, waitFor, type CreateOptions, type StoredExecution } from './n8n';

const root = path.resolve(__dirname, '..', '..');

/**
 * What a test file started, stopped in reverse order by `run()` (its `afterAll`). Each start is
 * registered as soon as it succeeded, so a `beforeAll` that fails later still has it stopped; a
 * stop that fails does not keep the others from running (the first failure is thrown at the end).
 */
export class Teardown {
	private readonly steps: Array<() => unknown> = [];

	/** Registers `stop` for `value` and returns `value`. */
	add<T>(value: T, stop: (value: T) => unknown): T {
		this.steps.push(() => stop(value));
		return value;
	}

	async run(): Promise<void> {
		const errors: unknown[] = [];
		while (this.steps.length) {
			try {
				await this.steps.pop()!();
			} catch (error) {
				errors.push(error);
			}
		}
		if (errors.length) throw errors[0];
	}
}

/**
 * A temporary folder (`mailbox-e2e-<name>-…`) and an n8n with this repository packed into it and
 * installed, as n8n's Community Nodes installer does; both removed by `teardown`.
 */
export async function startPackagedN8n(teardown: Teardown, name: string, options: Omit<CreateOptions, 'install' | 'packageTarball'> = {}): Promise<{ n8n: N8n; workDir: string }> {
	const install = checkN8n();
	const workDir = teardown.add(fs.mkdtempSync(path.join(os.tmpdir(), `mailbox-e2e-${name}-`)), (dir) => fs.rmSync(dir, { recursive: true, force: true }));
	const n8n = teardown.add(await N8n.create({ install, packageTarball: packPackage(root, workDir), ...options }), (n) => n.destroy());
	return { n8n, workDir };
}

/** A node of a workflow, without the id and position that `triggerWorkflow` gives it. */
export interface WorkflowNode {
	name: string;
	type: string;
	typeVersion: number;
	parameters: Record<string, unknown>;
	credentials?: Record<string, { id: string; name: string }>;
}

/**
 * A workflow of `trigger` and a NoOp named Done on its (first) output, inactive until published;
 * the nodes' ids are `nodeIdPrefix` followed by 01 and 02. `outputs`: how many outputs the
 * trigger's connections list (the others connected to nothing).
 */
export function triggerWorkflow(id: string, name: string, nodeIdPrefix: string, trigger: WorkflowNode, outputs = 1): object {
	return {
		id,
		name,
		active: false,
		nodes: [
			{ id: `${nodeIdPrefix}01`, name: trigger.name, type: trigger.type, typeVersion: trigger.typeVersion, position: [0, 0], parameters: trigger.parameters, ...(trigger.credentials ? { credentials: trigger.credentials } : {}) },
			{ id: `${nodeIdPrefix}02`, name: 'Done', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [300, 0], parameters: {} },
		],
		connections: { [trigger.name]: { main: [[{ node: 'Done', type: 'main', index: 0 }], ...Array.from({ length: outputs - 1 }, () => [])] } },
		settings: { executionOrder: 'v1' },
	};
}

/** The workflow's trigger executions that succeeded. */
export async function successfulTriggerRuns(n8n: N8n, workflowId: string): Promise<StoredExecution[]> {
	return (await n8n.executions(workflowId)).executions.filter((e) => e.mode === 'trigger' && e.status === 'success');
}

/** The Message-IDs of the items `trigger` gave in these executions, sorted. */
export function receivedMessageIds(executions: StoredExecution[], trigger: string): string[] {
	return executions.flatMap((e) => (e.output[trigger] ?? []).map((item) => item.messageId as string)).sort();
}

/**
 * Waits until the mail server has seen two more polls (`polls()` counts them, `what` names
 * them in a timeout), then until no run of the workflow is unfinished; gives its successful
 * trigger executions. Polls run one after another and each hands what it found to the trigger
 * before it ends, so after two more polls every run that will start has started.
 */
export async function triggerRunsAfterPolls(n8n: N8n, workflowId: string, polls: () => number, what: string): Promise<StoredExecution[]> {
	const before = polls();
	await waitFor('two more polls', async () => (polls() >= before + 2 ? true : undefined), undefined, () => `${polls() - before} more ${what}`);
	return waitFor('no run unfinished', async () => {
		const { executions } = await n8n.executions(workflowId);
		return executions.every(isFinished) ? executions.filter((e) => e.mode === 'trigger' && e.status === 'success') : undefined;
	});
}

/**
 * The credential dialog's "Connect my account" for the saved OAuth2 credential `credentialId`:
 * the browser (trusting the test certificate at `certPath`) signs in at the local authority and
 * follows its redirect back to n8n. Gives the authorization URL n8n sent the browser to, and the
 * answer of n8n's callback.
 */
export async function connectOAuth2Account(n8n: N8n, credentialId: string, certPath: string): Promise<{ auth: URL; callback: { status: number; body: string } }> {
	let authorizationUrl = '';
	const callback = await n8n.connectOAuth2(credentialId, async (url) => {
		authorizationUrl = url;
		return signIn(url, certPath);
	});
	return { auth: new URL(authorizationUrl), callback };
}

/** The browser at the authority: follows the authorization URL, returns where it redirects. */
function signIn(authorizationUrl: string, certPath: string): Promise<string> {
	return new Promise((resolve, reject) => {
		https
			.get(authorizationUrl, { ca: fs.readFileSync(certPath), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }, (res) => {
				res.resume();
				if (res.statusCode !== 302 || !res.headers.location) reject(new Error(`authorize answered ${res.statusCode}`));
				else resolve(res.headers.location);
			})
			.on('error', reject);
	});
}
