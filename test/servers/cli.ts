/**
 * Runs the test mail servers until SIGINT or SIGTERM, for humans and the demo:
 *
 *   sudo npx tsx test/servers/cli.ts [--user name:password ...] [--keep-state] [--debug]
 *
 * Prints the servers' info (ports, users, certificate, paths) as JSON on stdout: one line, or
 * indented when stdout is a terminal. Progress goes to stderr. On SIGINT/SIGTERM it stops
 * everything and removes the state dir (unless --keep-state).
 */
import { startMailServers, type MailServers } from './index';

function parseArgs(argv: string[]): { users?: Record<string, string>; keepState: boolean; debug: boolean } {
	let users: Record<string, string> | undefined;
	let keepState = false;
	let debug = false;
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === '--keep-state') keepState = true;
		else if (arg === '--debug') debug = true;
		else if (arg === '--user' || arg.startsWith('--user=')) {
			const value = arg === '--user' ? argv[++i] : arg.slice('--user='.length);
			const colon = value?.indexOf(':') ?? -1;
			if (!value || colon < 1) throw new Error(`--user needs name:password, got "${value ?? ''}"`);
			users = { ...users, [value.slice(0, colon)]: value.slice(colon + 1) };
		} else if (arg === '--help' || arg === '-h') {
			process.stderr.write('usage: tsx test/servers/cli.ts [--user name:password ...] [--keep-state] [--debug]\n');
			process.exit(0);
		} else throw new Error(`unknown argument ${arg} (try --help)`);
	}
	return { users, keepState, debug };
}

async function main(): Promise<void> {
	const args = parseArgs(process.argv.slice(2));
	const servers: MailServers = await startMailServers({ users: args.users, debug: args.debug });
	let stopping = false;
	const stop = (signal: NodeJS.Signals) => {
		if (stopping) return;
		stopping = true;
		process.stderr.write(`mail servers: ${signal}, stopping\n`);
		servers.stop({ keepState: args.keepState }).then(
			() => {
				if (args.keepState) process.stderr.write(`mail servers: state kept in ${servers.stateDir}\n`);
				process.exit(0);
			},
			(error: unknown) => {
				process.stderr.write(`mail servers: stop failed: ${String(error)}\n`);
				process.exit(1);
			},
		);
	};
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);
	const info = servers.info();
	process.stdout.write(`${process.stdout.isTTY ? JSON.stringify(info, null, 2) : JSON.stringify(info)}\n`);
	const p = info.ports;
	process.stderr.write(
		`mail servers on ${info.host}: IMAP ${p.imap} (STARTTLS), IMAPS ${p.imaps}, POP3 ${p.pop3} (STLS), POP3S ${p.pop3s}, ManageSieve ${p.sieve}, SMTP ${p.smtp} (STARTTLS), SMTPS ${p.smtps}, OAuth2 ${info.oauth.url}\n` +
			`state in ${info.stateDir}; stop with Ctrl-C or SIGTERM\n`,
	);
}

main().catch((error: unknown) => {
	process.stderr.write(`mail servers: ${error instanceof Error ? error.message : String(error)}\n`);
	process.exit(1);
});
