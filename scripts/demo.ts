/**
 * `npm run demo`: a local n8n with this package loaded, a local mail server with sample mail, the
 * example workflows (new mail, new mail to an AI agent with the Mailbox tool, folders, connection
 * check, catch-all router) and ready credentials. Prints the URL and login, runs until Ctrl-C.
 *
 *   DEMO_PORT       n8n's port (default 5678, or a free one if that is taken)
 *   DEMO_MESSAGES   sample messages in alice's INBOX (default 300)
 *   DEMO_NEW_MAIL_SECONDS  a new message arrives in alice's INBOX this often (default 30; 0 = never)
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { startMailServers } from '../test/servers';
import { generateMessage, generateMessages } from '../test/fixtures/mailgen';
import { freePort } from '../test/servers/ports';
import { checkN8n, N8n, packPackage } from '../test/e2e/n8n';
import { installPrerequisites } from '../test/setup/prerequisites';

const root = path.resolve(__dirname, '..');

function portIsFree(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const probe = net.createServer();
		probe.once('error', () => resolve(false));
		probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
	});
}

function say(line: string): void {
	process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
	const messageCount = Number(process.env.DEMO_MESSAGES ?? 300);
	say('demo: checking what the demo needs (the first run installs Dovecot, Node 24 and n8n 2.41.1 into the cache, about 5 minutes) ...');
	installPrerequisites(say);
	say('demo: starting the mail server (Dovecot, SMTP, OAuth2 endpoint) ...');
	const servers = await startMailServers();
	let n8n: N8n | undefined;
	const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailbox-demo-'));
	const shutdown = async () => {
		say('\ndemo: stopping n8n and the mail server ...');
		await n8n?.destroy().catch(() => undefined);
		await servers.stop().catch(() => undefined);
		fs.rmSync(workDir, { recursive: true, force: true });
		process.exit(0);
	};
	process.on('SIGINT', () => void shutdown());
	process.on('SIGTERM', () => void shutdown());

	await servers.writeMaildir('alice', 'INBOX', generateMessages({ seed: 42, count: messageCount, to: 'alice@example.test' }));
	await servers.writeMaildir('alice', 'Archive', generateMessages({ seed: 7, count: 25, to: 'alice@example.test' }));
	say(`demo: ${messageCount} sample messages in alice's INBOX, 25 in Archive`);
	// the company's catch-all mailbox: mail for every address of its domains, as the mail server delivered it
	const catchAllRecipients = ['info@firma.test', 'Kontakt@firma.test', 'anna.weber@firma.test', 'a.weber+rechnung@firma.test', 'sys.admin@firma.test', 'anna.weber@alt-firma.test', 'vertrieb@firma.test', 'niemand@firma.test'];
	await servers.writeMaildir('catchall', 'INBOX', generateMessages({ seed: 99, count: 40, attachPct: 5, catchAll: { mailbox: 'catchall@firma.test', recipients: catchAllRecipients } }));
	say(`demo: 40 messages in the catch-all mailbox for ${catchAllRecipients.length} addresses`);

	say('demo: preparing n8n ...');
	const install = checkN8n();
	const tarball = packPackage(root, workDir);
	const wanted = Number(process.env.DEMO_PORT ?? 5678);
	const port = (await portIsFree(wanted)) && (await portIsFree(wanted + 1)) ? wanted : await freePort();
	n8n = await N8n.create({ install, packageTarball: tarball, port, env: { NODE_EXTRA_CA_CERTS: servers.certPath } });

	const credential = {
		id: 'mbxDemoImapAlice',
		name: 'Demo mailbox (alice)',
		type: 'mailboxImapApi',
		data: { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', user: 'alice', password: 'alice-pw', allowSelfSigned: false },
	};
	const catchAllCredential = {
		id: 'mbxDemoImapCatchAll',
		name: 'Demo catch-all mailbox (catchall)',
		type: 'mailboxImapApi',
		data: { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', user: 'catchall', password: 'catchall-pw', allowSelfSigned: false },
	};
	await n8n.importCredentials([credential, catchAllCredential]);
	const workflowsDir = path.join(root, 'examples', 'workflows');
	const workflowIds: string[] = [];
	for (const file of fs.readdirSync(workflowsDir).filter((f) => f.endsWith('.json')).sort()) {
		workflowIds.push(await n8n.importWorkflow(JSON.parse(fs.readFileSync(path.join(workflowsDir, file), 'utf8'))));
	}
	// Run the examples once in n8n, so the person sees they work before opening the editor.
	const check = await n8n.execute('mbxDemoCheckConn');
	say(`demo: "Check connection" ran in n8n: ${check.status}: ${String(check.output['Check connection']?.[0]?.message ?? check.error)}`);
	const list = await n8n.execute('mbxDemoListFolders');
	say(`demo: "List folders" ran in n8n: ${list.status}, ${list.output['List folders']?.length ?? 0} folders listed`);

	// The trigger example is published (active), so it receives the mail that arrives below.
	await n8n.publish('mbxDemoNewMail');
	// The router example is published too: it distributes the catch-all's mail into Inboxes/* at once.
	await n8n.publish('mbxDemoRouteCatchAll');
	await n8n.start();
	const login = await n8n.setupOwner();
	const url = `http://127.0.0.1:${port}`;
	say('');
	say(`  n8n:        ${url}`);
	say(`  login:      ${login.email} / ${login.password}`);
	say(`  workflows:  ${workflowIds.map((id) => `${url}/workflow/${id}`).join('\n              ')}`);
	say(`  credential: "${credential.name}" (Mailbox IMAP; press Test in the credential dialog)`);
	say(`  mailbox:    IMAPS 127.0.0.1:${servers.ports.imaps}, IMAP/STARTTLS 127.0.0.1:${servers.ports.imap}, users alice/alice-pw, bob/bob-pw`);
	say(`  catch-all:  user catchall/catchall-pw; the published router workflow files its mail into Inboxes/Info, Inboxes/Anna Weber, Inboxes/Sysadmin, Inboxes/Vertrieb (see its executions; unknown addresses stay in INBOX)`);
	say(`  mail state: ${servers.stateDir}`);
	const every = Number(process.env.DEMO_NEW_MAIL_SECONDS ?? 30);
	if (every > 0) {
		// New mail for the IMAP trigger example: appended as another mail client would, so the
		// trigger gets it pushed by IDLE and the executions list fills up.
		const imap = new ImapFlow({ host: '127.0.0.1', port: servers.ports.imaps, secure: true, tls: { ca: fs.readFileSync(servers.certPath) }, auth: { user: 'alice', pass: 'alice-pw' }, logger: false });
		await imap.connect();
		let index = 0;
		const deliver = async () => {
			const message = generateMessage(2026, index++, { to: 'alice@example.test' });
			await imap.append('INBOX', message.raw, []);
			say(`demo: new mail in alice's INBOX: "${message.subject}" -> see the executions of "Mailbox: receive new mail"`);
		};
		setInterval(() => void deliver().catch((error: unknown) => say(`demo: could not deliver new mail: ${String(error)}`)), every * 1000);
		say(`  new mail:   one message every ${every} s into alice's INBOX; the published "receive new mail" workflow gets each once`);
	}
	say('');
	say('demo: running; press Ctrl-C to stop.');
}

main().catch((error: unknown) => {
	process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
	process.exit(1);
});
