/**
 * Folder → Create, Rename, Delete (and List) of the Mailbox node against a real Dovecot, whose
 * hierarchy delimiter is "/" (Maildir++ storage: "." is refused in names). Needs root.
 */
import tls from 'node:tls';
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';
import { withImap } from '../../lib/imap/connect';
import { listFolders, type FolderInfo } from '../../lib/imap/folders';
import { Mailbox } from '../../nodes/Mailbox/Mailbox.node';
import { generateMessage } from '../fixtures/mailgen';
import { executeContext } from './helpers/execute-context';
import { useMailServers } from './helpers/mail-servers';

describe('Mailbox node: Folder → Create, Rename, Delete', () => {
	const env = useMailServers();

	const credentials = (user = 'alice') => ({ mailboxImapApi: env.imapCredential(user) });

	async function run(operation: string, params: Record<string, unknown>, continueOnFail = false): Promise<INodeExecutionData[]> {
		const ctx = executeContext({ items: [{ json: {} }], params: { authentication: 'password', resource: 'folder', operation, ...params }, credentials: credentials(), continueOnFail });
		return (await new Mailbox().execute.call(ctx))[0];
	}
	/** Runs an operation that must fail; returns the error's message and description. */
	async function failure(operation: string, params: Record<string, unknown>): Promise<{ message: string; description: string }> {
		let caught: unknown;
		try {
			await run(operation, params);
		} catch (error) {
			caught = error;
		}
		expect(caught).toBeInstanceOf(Error);
		const error = caught as Error & { description?: string };
		return { message: error.message, description: error.description ?? '' };
	}
	const folders = async (): Promise<FolderInfo[]> => {
		const server = env.imapServer();
		return withImap(server, { user: 'alice', password: 'alice-pw' }, (client) => listFolders(client, { counts: true }));
	};
	/** The subscriptions as LSUB reports them, also those of folders that no longer exist. */
	const subscriptions = (): Promise<string[]> =>
		new Promise((resolve, reject) => {
			const socket = tls.connect({ host: '127.0.0.1', port: env.servers.ports.imaps, ca: env.ca, servername: 'localhost' });
			let data = '';
			let sent = false;
			socket.setEncoding('utf8');
			socket.on('error', reject);
			socket.on('data', (chunk: string) => {
				data += chunk;
				if (!sent && data.includes('* OK')) {
					sent = true;
					socket.write('a LOGIN alice alice-pw\r\nb LSUB "" "*"\r\nc LOGOUT\r\n');
				}
				if (/\r\nb (OK|NO|BAD)/.test(data)) {
					socket.end();
					const lines = data.split('\r\n').filter((l) => l.startsWith('* LSUB '));
					resolve(lines.map((l) => l.replace(/^\* LSUB \([^)]*\) "[^"]*" /, '').replace(/^"(.*)"$/, '$1')).sort());
				}
			});
		});
	const byPath = async () => Object.fromEntries((await folders()).map((f) => [f.path, f]));

	it('creates a nested folder with its parents, subscribed, and List shows it', async () => {
		const [item] = await run('create', { folderPath: 'Projects/2026/Q1' });
		expect(item.json).toEqual({ path: 'Projects/2026/Q1', created: true, parentsCreated: ['Projects', 'Projects/2026'], subscribed: true, delimiter: '/' });
		const listed = await run('list', {});
		const q1 = listed.find((i) => i.json.path === 'Projects/2026/Q1')?.json;
		expect(q1).toMatchObject({ name: 'Q1', parentPath: 'Projects/2026', subscribed: true, selectable: true, messages: 0, unseen: 0 });
		for (const parent of ['Projects', 'Projects/2026']) {
			// real folders (not placeholders that vanish with their last child), subscribed too
			expect(listed.find((i) => i.json.path === parent)?.json).toMatchObject({ selectable: true, subscribed: true });
		}
		// the roles are still listed
		expect(listed.find((i) => i.json.path === 'Junk')?.json).toMatchObject({ specialUse: 'junk' });
	});

	it('translates another Path Separator to the server\'s "/", and can leave the folder unsubscribed', async () => {
		const [item] = await run('create', { folderPath: 'Clients.ACME GmbH.Orders', options: { separator: '.', subscribe: false } });
		expect(item.json).toMatchObject({ path: 'Clients/ACME GmbH/Orders', created: true, parentsCreated: ['Clients', 'Clients/ACME GmbH'], subscribed: false });
		const after = await byPath();
		expect(after['Clients/ACME GmbH/Orders']).toMatchObject({ selectable: true, subscribed: false });
		expect(after['Clients']).toMatchObject({ selectable: true, subscribed: false });
	});

	it('refuses an existing folder by default, naming the field; "Return It" outputs it unchanged with created: false', async () => {
		const before = await folders();
		const refused = await failure('create', { folderPath: 'Projects/2026' });
		expect(refused.message).toBe('Folder Path: the folder "Projects/2026" already exists.');
		expect(refused.description).toMatch(/If the Folder Exists/);
		const [item] = await run('create', { folderPath: 'Projects/2026/Q1', options: { ifExists: 'return' } });
		expect(item.json).toEqual({ path: 'Projects/2026/Q1', created: false, parentsCreated: [], subscribed: true, delimiter: '/' });
		expect((await folders()).map((f) => f.path)).toEqual(before.map((f) => f.path));
		// INBOX in any case is the existing INBOX
		expect((await failure('create', { folderPath: 'inbox' })).message).toBe('Folder Path: the folder "INBOX" already exists.');
	});

	it.each([
		['', /^Folder Path is empty\.$/],
		['   ', /^Folder Path is empty\.$/],
		['/Projects', /^Folder Path "\/Projects" has an empty level/],
		['Projects/', /^Folder Path "Projects\/" has an empty level/],
		['Projects//Q1', /^Folder Path "Projects\/\/Q1" has an empty level/],
		[' Projects/Q2', /the level " Projects" starts or ends with a space/],
		['Projects/Q2 ', /the level "Q2 " starts or ends with a space/],
		['Projects/Q\n2', /control character/],
		['Projects/Q*', /"\*" or "%"/],
	])('refuses the invalid path %j with a message naming Folder Path, creating nothing', async (folderPath, pattern) => {
		const before = (await folders()).map((f) => f.path);
		const refused = await failure('create', { folderPath });
		expect(refused.message).toMatch(pattern);
		expect(refused.description).not.toBe('');
		expect((await folders()).map((f) => f.path)).toEqual(before);
	});

	it('refuses a name containing the server\'s delimiter when another Path Separator is chosen', async () => {
		const refused = await failure('create', { folderPath: 'Reports.2026/Q1', options: { separator: '.' } });
		expect(refused.message).toBe('Folder Path "Reports.2026/Q1": the name "2026/Q1" contains "/", which this server uses between folder levels, so it would become a subfolder.');
		expect(refused.description).toMatch(/Path Separator to "\/"/);
		expect((await folders()).some((f) => f.path.startsWith('Reports'))).toBe(false);
	});

	it('reports a name the server refuses with its own words and the field', async () => {
		const refused = await failure('create', { folderPath: 'Version 1.2' });
		expect(refused.message).toMatch(/^The server refused to create the folder "Version 1\.2": Character not allowed in mailbox name: '\.'/);
		expect(refused.description).toMatch(/Dovecot with Maildir storage refuses "\."/);
	});

	it('renames a folder with its subfolders; subscriptions follow; parents of the new path are created', async () => {
		await run('create', { folderPath: 'Projects/2026/Q2' });
		await env.servers.writeMaildir('alice', 'Projects/2026/Q1', [0, 1].map((i) => generateMessage(5, i)));
		const [item] = await run('rename', { folderPath: 'Projects/2026', newPath: 'Archive 2026/Projects' });
		expect(item.json).toEqual({
			from: 'Projects/2026',
			to: 'Archive 2026/Projects',
			subfolders: [
				{ from: 'Projects/2026/Q1', to: 'Archive 2026/Projects/Q1' },
				{ from: 'Projects/2026/Q2', to: 'Archive 2026/Projects/Q2' },
			],
			parentsCreated: ['Archive 2026'],
			subscribed: ['Archive 2026/Projects', 'Archive 2026/Projects/Q1', 'Archive 2026/Projects/Q2'],
			delimiter: '/',
		});
		const after = await byPath();
		expect(after['Archive 2026/Projects/Q1']).toMatchObject({ subscribed: true, messages: 2 });
		expect(after['Archive 2026/Projects/Q2']).toMatchObject({ subscribed: true });
		expect(after['Archive 2026/Projects']).toMatchObject({ subscribed: true, selectable: true });
		expect(Object.keys(after).filter((p) => p.startsWith('Projects/'))).toEqual([]);
		const subscribed = await subscriptions();
		expect(subscribed).toEqual(expect.arrayContaining(['Archive 2026/Projects', 'Archive 2026/Projects/Q1', 'Archive 2026/Projects/Q2', 'Projects']));
		expect(subscribed.filter((p) => p.startsWith('Projects/'))).toEqual([]);
	});

	it('refuses to rename INBOX, to an existing folder, into itself, or a folder that does not exist', async () => {
		const inbox = await failure('rename', { folderPath: 'INBOX', newPath: 'Old Inbox' });
		expect(inbox.message).toBe('Folder Path: INBOX cannot be renamed.');
		expect(inbox.description).toMatch(/move them/);
		const exists = await failure('rename', { folderPath: 'Archive 2026/Projects/Q2', newPath: 'Archive 2026/Projects/Q1' });
		expect(exists.message).toBe('New Path: the folder "Archive 2026/Projects/Q1" already exists.');
		const inside = await failure('rename', { folderPath: 'Archive 2026', newPath: 'Archive 2026/Projects/Old' });
		expect(inside.message).toBe('New Path: "Archive 2026/Projects/Old" lies inside the folder "Archive 2026" itself.');
		const missing = await failure('rename', { folderPath: 'No/Such', newPath: 'Else' });
		expect(missing.message).toBe('Folder Path: the folder "No/Such" does not exist.');
		const invalid = await failure('rename', { folderPath: 'Archive 2026/Projects/Q2', newPath: 'Archive 2026//Q3' });
		expect(invalid.message).toMatch(/^New Path "Archive 2026\/\/Q3" has an empty level/);
		const after = await byPath();
		expect(after['Archive 2026/Projects/Q2']).toBeDefined();
		expect(after['Archive 2026/Projects/Q1']).toMatchObject({ messages: 2 });
		expect(after['INBOX']).toBeDefined();
	});

	it('deletes an empty folder and its subscription', async () => {
		const [item] = await run('delete', { folderPath: 'Archive 2026/Projects/Q2' });
		expect(item.json).toEqual({ path: 'Archive 2026/Projects/Q2', deleted: [{ path: 'Archive 2026/Projects/Q2', messages: 0 }], messages: 0 });
		const subscribed = await subscriptions();
		expect(subscribed).toContain('Archive 2026/Projects/Q1');
		expect(subscribed).not.toContain('Archive 2026/Projects/Q2');
		expect((await byPath())['Archive 2026/Projects/Q2']).toBeUndefined();
	});

	it('refuses a folder with messages or subfolders, INBOX and role folders unless forced; nothing is deleted', async () => {
		const before = (await folders()).map((f) => f.path);
		const withMessages = await failure('delete', { folderPath: 'Archive 2026/Projects/Q1' });
		expect(withMessages.message).toBe('Folder Path: the folder "Archive 2026/Projects/Q1" is not empty: it holds 2 messages.');
		expect(withMessages.description).toMatch(/turn on Force/);
		const withChildren = await failure('delete', { folderPath: 'Archive 2026' });
		expect(withChildren.message).toBe('Folder Path: the folder "Archive 2026" is not empty: it holds 2 subfolders.');
		const junk = await failure('delete', { folderPath: 'Junk' });
		expect(junk.message).toBe("Folder Path: not deleted, it is the account's junk folder.");
		const inbox = await failure('delete', { folderPath: 'INBOX', force: true });
		expect(inbox.message).toBe('Folder Path: INBOX cannot be deleted.');
		expect((await failure('delete', { folderPath: 'Gone', force: true })).message).toBe('Folder Path: the folder "Gone" does not exist.');
		expect((await folders()).map((f) => f.path)).toEqual(before);
	});

	it('with Force deletes the subfolders deepest first, then the folder, with their message counts', async () => {
		await run('create', { folderPath: 'Archive 2026/Projects/Q1/Invoices' });
		await env.servers.writeMaildir('alice', 'Archive 2026/Projects/Q1/Invoices', [2, 3, 4].map((i) => generateMessage(5, i)));
		await env.servers.writeMaildir('alice', 'Archive 2026', [generateMessage(5, 5)]);
		const [item] = await run('delete', { folderPath: 'Archive 2026', force: true });
		expect(item.json).toEqual({
			path: 'Archive 2026',
			deleted: [
				{ path: 'Archive 2026/Projects/Q1/Invoices', messages: 3 },
				{ path: 'Archive 2026/Projects/Q1', messages: 2 },
				{ path: 'Archive 2026/Projects', messages: 0 },
				{ path: 'Archive 2026', messages: 1 },
			],
			messages: 6,
		});
		expect((await folders()).filter((f) => f.path.startsWith('Archive 2026'))).toEqual([]);
		// a role folder goes only with Force, and says so
		await run('create', { folderPath: 'Junk/Old' });
		const [forced] = await run('delete', { folderPath: 'Junk/Old', force: true });
		expect((forced.json as IDataObject).deleted).toEqual([{ path: 'Junk/Old', messages: 0 }]);
	});

	it('reports a failure on its item with Continue On Fail', async () => {
		const [item] = await run('delete', { folderPath: 'INBOX' }, true);
		expect(item.json).toEqual({ error: 'Folder Path: INBOX cannot be deleted.', description: expect.stringContaining('INBOX is where new mail arrives') });
	});
});
