/**
 * A scripted POP3 server on 127.0.0.1 for tests that need one that can stop answering: USER/PASS,
 * UIDL, LIST, RETR, DELE, QUIT; `hold` keeps UIDL or RETR unanswered until released.
 */
import net from 'node:net';
import { closeWhenFileEnds } from './lifetime';

/** A minimal POP3 server: USER/PASS, UIDL, LIST, RETR, DELE, QUIT; `hold` keeps UIDL or RETR unanswered until released. */
export class ScriptedPop3 {
	messages: Array<{ uidl: string; raw: string }> = [];
	hold?: 'UIDL' | 'RETR';
	/** UIDLs of every DELE received (committed or not). */
	deles: string[] = [];
	/** QUIT removes the messages its session marked with DELE, as a POP3 server does (off: they stay). */
	commitOnQuit = false;
	sessions = 0;
	open = 0;
	maxOpen = 0;
	private held: Array<() => void> = [];
	private server?: net.Server;
	private sockets = new Set<net.Socket>();
	port = 0;

	async listen(): Promise<this> {
		this.server = net.createServer((socket) => this.serve(socket));
		closeWhenFileEnds('scripted POP3 server', this.server);
		await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
		this.port = (this.server.address() as net.AddressInfo).port;
		return this;
	}

	get waiting(): number {
		return this.held.length;
	}

	release(): void {
		this.hold = undefined;
		for (const go of this.held.splice(0)) go();
	}

	async close(): Promise<void> {
		for (const s of this.sockets) s.destroy();
		await new Promise<void>((resolve) => this.server?.close(() => resolve()));
	}

	private serve(socket: net.Socket): void {
		this.sessions++;
		this.open++;
		// Counted once this turn of the event loop has seen everything that arrived with the new
		// connection: a client that closed the old one first sent its FIN before this SYN, so the old
		// session's 'end' has been handled by then, however late this process got to run.
		setImmediate(() => {
			this.maxOpen = Math.max(this.maxOpen, this.open);
		});
		this.sockets.add(socket);
		socket.on('error', () => undefined);
		// a session ends with QUIT or when the client ends the connection, whichever comes first
		let ended = false;
		const end = () => {
			if (!ended) this.open--;
			ended = true;
		};
		socket.on('end', end);
		socket.on('close', () => {
			end();
			this.sockets.delete(socket);
		});
		const send = (text: string) => {
			if (!socket.destroyed) socket.write(text);
		};
		const multi = (lines: string[]) => send(`+OK\r\n${lines.map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n')}${lines.length ? '\r\n' : ''}.\r\n`);
		let buffer = '';
		const marked = new Set<string>();
		send('+OK scripted POP3 ready\r\n');
		socket.on('data', (chunk) => {
			buffer += chunk.toString('latin1');
			for (let at = buffer.indexOf('\r\n'); at !== -1; at = buffer.indexOf('\r\n')) {
				const [verb, arg] = buffer.slice(0, at).split(' ');
				buffer = buffer.slice(at + 2);
				const answer = () => {
					switch (verb.toUpperCase()) {
						case 'CAPA':
							return multi(['USER', 'UIDL', 'TOP']);
						case 'DELE':
							this.deles.push(this.messages[Number(arg) - 1].uidl);
							marked.add(this.messages[Number(arg) - 1].uidl);
							return send('+OK\r\n');
						case 'USER':
						case 'PASS':
						case 'NOOP':
							return send('+OK\r\n');
						case 'UIDL':
							return multi(this.messages.map((m, i) => `${i + 1} ${m.uidl}`));
						case 'LIST':
							return multi(this.messages.map((m, i) => `${i + 1} ${Buffer.byteLength(m.raw, 'latin1')}`));
						case 'RETR':
							return multi(this.messages[Number(arg) - 1].raw.replace(/\r\n$/, '').split('\r\n'));
						case 'QUIT':
							if (this.commitOnQuit) this.messages = this.messages.filter((m) => !marked.has(m.uidl));
							end();
							send('+OK bye\r\n');
							return socket.end();
						default:
							return send('-ERR unknown command\r\n');
					}
				};
				if (this.hold && verb.toUpperCase() === this.hold) this.held.push(answer);
				else answer();
			}
		});
	}
}
