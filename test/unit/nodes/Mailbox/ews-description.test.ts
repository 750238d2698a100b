/**
 * The Mailbox node's description with Access Via: the parameters n8n resolves for IMAP (unchanged,
 * the default) and for EWS, the credentials it offers in each mode, and which operations EWS runs.
 * Parameters are resolved by n8n-workflow's own getNodeParameters/displayParameter, as the editor
 * and the workflow runner do.
 */
import { NodeHelpers, type INodeParameters } from 'n8n-workflow';
import { Mailbox } from '../../../../nodes/Mailbox/Mailbox.node';
import { resources } from '../../../../nodes/Mailbox/actions/dispatch';

const node = new Mailbox();
const description = node.description;
const typeNode = { typeVersion: 1 };

function resolve(values: INodeParameters): INodeParameters {
	return NodeHelpers.getNodeParameters(description.properties, values, true, false, typeNode, description) ?? {};
}

function credentialsShown(values: INodeParameters): string[] {
	const resolved = resolve(values);
	return (description.credentials ?? []).filter((c) => NodeHelpers.displayParameter(resolved, c, typeNode, description)).map((c) => c.name);
}

const operationsOf = (resource: string): string[] => ((resources[resource].operation.options ?? []) as Array<{ value: string }>).map((o) => o.value);

describe('Mailbox node: Access Via', () => {
	it('is IMAP by default, so existing workflows resolve exactly as before', () => {
		const accessVia = description.properties.find((p) => p.name === 'accessVia');
		expect(accessVia).toMatchObject({ type: 'options', default: 'imap', noDataExpression: true });
		expect((accessVia?.options as Array<{ value: string }>).map((o) => o.value)).toEqual(['imap', 'ews', 'graph']);
		for (const resource of Object.keys(resources)) {
			for (const operation of operationsOf(resource)) {
				const without = resolve({ resource, operation });
				const imap = resolve({ resource, operation, accessVia: 'imap' });
				expect(imap).toEqual(without);
				expect(without).toMatchObject({ accessVia: 'imap', authentication: 'password' });
				expect(Object.keys(without)).not.toEqual(expect.arrayContaining(['itemId']));
				expect(without.ewsUrl).toBeUndefined();
			}
		}
	});

	it('IMAP messages are addressed by folder, UID and UIDVALIDITY; EWS ones by item ID from $json.itemId', () => {
		const imap = resolve({ resource: 'message', operation: 'move' });
		expect(imap).toMatchObject({ folder: '={{ $json.folder }}', uid: '={{ $json.uid }}', uidValidity: '={{ $json.uidValidity }}', destination: '' });
		expect(imap.itemId).toBeUndefined();
		const ews = resolve({ resource: 'message', operation: 'move', accessVia: 'ews' });
		expect(ews).toMatchObject({ accessVia: 'ews', authentication: 'microsoftApp', itemId: '={{ $json.itemId }}', destination: '', ewsUrl: 'https://outlook.office365.com/EWS/Exchange.asmx', mailbox: '' });
		expect([ews.folder, ews.uid, ews.uidValidity, ews.options]).toEqual([undefined, undefined, undefined, undefined]);
	});

	it('EWS options per operation: Delete Permanently, junk folder and Move To, the item shape of Get; flags as for IMAP', () => {
		const option = (operation: string) => {
			const shown = description.properties.filter((p) => p.name === 'options' && NodeHelpers.displayParameter(resolve({ resource: 'message', operation, accessVia: 'ews' }), p, typeNode, description));
			expect(shown.length).toBeLessThanOrEqual(1);
			return ((shown[0]?.options ?? []) as Array<{ name: string }>).map((o) => o.name).sort();
		};
		expect(option('delete')).toEqual(['deletePermanently']);
		expect(option('markAsSpam')).toEqual(['junkFolder']);
		expect(option('markAsNotSpam')).toEqual(['junkFolder', 'moveTo']);
		expect(option('get')).toEqual(['aiBody', 'attachmentsPrefix', 'bodyMaxChars', 'correspondents', 'downloadAttachments', 'includeRaw', 'ownDomains']);
		expect(option('move')).toEqual([]);
		expect(resolve({ resource: 'message', operation: 'setFlags', accessVia: 'ews' })).toMatchObject({ flags: [], keywords: '' });
		const folderList = description.properties.filter((p) => p.name === 'options' && NodeHelpers.displayParameter(resolve({ resource: 'folder', operation: 'list', accessVia: 'ews' }), p, typeNode, description));
		expect(folderList.map((p) => (p.options as Array<{ name: string }>).map((o) => o.name))).toEqual([['mailOnly']]);
		expect(resolve({ resource: 'folder', operation: 'create', accessVia: 'ews' })).toMatchObject({ folderPath: '' });
	});

	it('offers the credential of each Authentication: IMAP password, the Microsoft 365 ones in both modes, the on-premises EWS one', () => {
		expect(credentialsShown({})).toEqual(['mailboxImapApi']);
		expect(credentialsShown({ resource: 'connection', operation: 'check', protocol: 'pop3' })).toEqual(['mailboxPop3Api']);
		expect(credentialsShown({ authentication: 'microsoftApp' })).toEqual(['mailboxMicrosoftAppApi']);
		expect(credentialsShown({ accessVia: 'ews' })).toEqual(['mailboxMicrosoftAppApi']);
		expect(credentialsShown({ accessVia: 'ews', authentication: 'microsoftOAuth2' })).toEqual(['mailboxMicrosoftOAuth2Api']);
		expect(credentialsShown({ accessVia: 'ews', authentication: 'ewsPassword' })).toEqual(['mailboxEwsApi']);
		// a stale IMAP choice never offers the IMAP, POP3 or SMTP credential over EWS
		expect(credentialsShown({ accessVia: 'ews', authentication: 'password', resource: 'connection', operation: 'check', protocol: 'smtp' })).toEqual([]);
		const ewsEntry = (description.credentials ?? []).find((c) => c.name === 'mailboxEwsApi');
		expect(typeof (node.methods.credentialTest as Record<string, unknown>)[ewsEntry?.testedBy as string]).toBe('function');
	});

	it('EWS sign-in: Authentication choices, EWS URL only for Microsoft 365, no Server choice for the check', () => {
		const auth = description.properties.filter((p) => p.name === 'authentication' && NodeHelpers.displayParameter(resolve({ accessVia: 'ews' }), p, typeNode, description));
		expect(auth).toHaveLength(1);
		expect((auth[0].options as Array<{ value: string }>).map((o) => o.value)).toEqual(['microsoftApp', 'microsoftOAuth2', 'ewsPassword']);
		expect(resolve({ accessVia: 'ews', authentication: 'ewsPassword' }).ewsUrl).toBeUndefined();
		expect(resolve({ resource: 'connection', operation: 'check', accessVia: 'ews' }).protocol).toBeUndefined();
		expect(resolve({ resource: 'connection', operation: 'check' }).protocol).toBe('imap');
	});

	it('EWS runs Check, Folder List/Create and the message operations by item ID; the rest is IMAP only', () => {
		const ews = Object.fromEntries(Object.entries(resources).map(([name, r]) => [name, Object.keys(r.ews ?? {}).sort()]));
		expect(ews).toEqual({
			connection: ['check'],
			folder: ['create', 'list'],
			message: ['clearFlags', 'copy', 'delete', 'get', 'markAsNotSpam', 'markAsSpam', 'move', 'setFlags'],
			outOfOffice: [],
			retention: [],
		});
		for (const [name, ops] of Object.entries(ews)) for (const op of ops) expect(operationsOf(name)).toContain(op);
		const accessVia = description.properties.find((p) => p.name === 'accessVia');
		const ewsChoice = (accessVia?.options as Array<{ value: string; description: string }>).find((o) => o.value === 'ews');
		expect(ewsChoice?.description).toMatch(/Check.*List and Create.*Get, Move, Copy, Delete.*Spam/);
	});
});

describe('Mailbox node: Access Via Microsoft Graph', () => {
	it('offers the Microsoft 365 credentials only, with Graph URL and messages by Message ID from $json.itemId', () => {
		expect(credentialsShown({ accessVia: 'graph' })).toEqual(['mailboxMicrosoftAppApi']);
		expect(credentialsShown({ accessVia: 'graph', authentication: 'microsoftOAuth2' })).toEqual(['mailboxMicrosoftOAuth2Api']);
		expect(credentialsShown({ accessVia: 'graph', authentication: 'password', resource: 'connection', operation: 'check', protocol: 'pop3' })).toEqual([]);
		const auth = description.properties.filter((p) => p.name === 'authentication' && NodeHelpers.displayParameter(resolve({ accessVia: 'graph' }), p, typeNode, description));
		expect(auth).toHaveLength(1);
		expect((auth[0].options as Array<{ value: string }>).map((o) => o.value)).toEqual(['microsoftApp', 'microsoftOAuth2']);
		const move = resolve({ resource: 'message', operation: 'move', accessVia: 'graph' });
		expect(move).toMatchObject({ accessVia: 'graph', authentication: 'microsoftApp', graphUrl: 'https://graph.microsoft.com/v1.0', itemId: '={{ $json.itemId }}', destination: '' });
		expect([move.folder, move.uid, move.ewsUrl]).toEqual([undefined, undefined, undefined]);
		const search = resolve({ resource: 'message', operation: 'search', accessVia: 'graph' });
		expect(search).toMatchObject({ folder: 'INBOX', searchText: '', filters: {} });
		expect(resolve({ resource: 'message', operation: 'setFlags', accessVia: 'graph' })).toMatchObject({ flags: [], categories: '' });
		expect(resolve({ resource: 'message', operation: 'setFlags', accessVia: 'graph' }).keywords).toBeUndefined();
		expect(resolve({ resource: 'outOfOffice', operation: 'set', accessVia: 'graph' }).subject).toBeUndefined();
	});

	it('runs Connection Check, Folder List/Create/Rename/Delete, the message operations but Append, Out of Office and Retention', () => {
		const graph = Object.fromEntries(Object.entries(resources).map(([name, r]) => [name, Object.keys(r.graph ?? {}).sort()]));
		expect(graph).toEqual({
			connection: ['check'],
			folder: ['create', 'delete', 'list', 'rename'],
			message: ['clearFlags', 'copy', 'delete', 'get', 'markAsNotSpam', 'markAsSpam', 'move', 'search', 'setFlags'],
			outOfOffice: ['clear', 'get', 'set'],
			retention: ['apply'],
		});
		for (const [name, ops] of Object.entries(graph)) for (const op of ops) expect(operationsOf(name)).toContain(op);
	});
});
