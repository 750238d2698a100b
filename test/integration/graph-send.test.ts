/**
 * The Mailbox Send Email node with Send Via: Microsoft Graph against the local Graph endpoint
 * (test/servers/graph.ts): what the endpoint received (POST sendMail, text/plain, base64 MIME)
 * byte for byte against what the SMTP path composes for the same parameters, BCC and the
 * account's BCC as Bcc recipients that the transmitted message does not show, signatures, allowed
 * senders refusing a From before anything is sent, the SHA-256 of the bytes received, a throttled
 * request sent once, the copy in Sent Items, and errors that name the field.
 *
 * Two seams, both outside the code under test (as in mailbox-ews.test.ts): the app's token comes
 * from the local OAuth server instead of MSAL (MSAL trusts the test authority only through
 * NODE_EXTRA_CA_CERTS at process start; graph-client.test.ts runs the real MSAL path in a child
 * process), and connectGraph trusts the test certificate (n8n would trust a company CA through
 * NODE_EXTRA_CA_CERTS). Graph itself is the local endpoint, not a mock.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { IDataObject, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { simpleParser } from 'mailparser';
import { composeMessage, type ComposedMessage, type ComposeInput } from '../../lib/smtp/compose';
import { MailboxSend } from '../../nodes/MailboxSend/MailboxSend.node';
import { GraphServer, type GraphRequestLog } from '../servers/graph';
import { OAuthServer } from '../servers/oauth';
import { executeContext as baseContext, failure } from './helpers/execute-context';
import { localCertificate } from './helpers/local-tls';

const mockSeams: { ca?: Buffer; appToken?: (clientId: string, fresh: boolean) => string } = {};

jest.mock('../../lib/auth/microsoft', () => {
	const actual = jest.requireActual('../../lib/auth/microsoft');
	return {
		...actual,
		getAppToken: jest.fn(async (settings: { clientId: string }, _logger: unknown, options: { fresh?: boolean } = {}) => {
			if (!mockSeams.appToken) throw new Error('no app token source');
			return { accessToken: mockSeams.appToken(settings.clientId, options.fresh === true), expiresOn: new Date(Date.now() + 3600_000), fromCache: false };
		}),
	};
});

jest.mock('../../lib/graph/client', () => {
	const actual = jest.requireActual('../../lib/graph/client');
	return { ...actual, connectGraph: (options: Record<string, unknown>) => actual.connectGraph({ ...options, ca: mockSeams.ca }) };
});

const ALICE = 'alice@contoso.test';
const SHARED = 'shared@contoso.test';
const OTHER = 'other@contoso.test';

/** The Message-ID and multipart boundary base of a message MailComposer built: parts that differ from run to run. */
async function randomPartsOf(raw: Buffer): Promise<{ messageId: string; baseBoundary?: string }> {
	const parsed = await simpleParser(raw);
	const baseBoundary = /boundary="?--_NmP-([^-"\s]+)-Part_/.exec(raw.toString('latin1'))?.[1];
	return { messageId: parsed.messageId!, baseBoundary };
}

/**
 * What the SMTP path composes for the input, with the Message-ID and boundaries of `sent` and its
 * Date line (the clock's second differs; the header's place is the same, as neither gives a Date).
 */
async function composedLike(sent: Buffer, input: ComposeInput): Promise<ComposedMessage> {
	const message = await composeMessage({ ...input, ...(await randomPartsOf(sent)) });
	const dateLine = /^Date: .*$/m.exec(sent.toString('latin1'))![0];
	const raw = Buffer.from(message.raw.toString('latin1').replace(/^Date: .*$/m, dateLine), 'latin1');
	return { ...message, raw, sha256: crypto.createHash('sha256').update(raw).digest('hex') };
}

const headOf = (raw: Buffer) => raw.toString('latin1').split('\r\n\r\n')[0];

describe('Mailbox Send Email, Send Via: Microsoft Graph', () => {
	let dir: string;
	let oauth: OAuthServer;
	let server: GraphServer;

	const app = { tenantId: 'contoso', clientId: 'graph-app', clientSecret: 'Graph-App-Secret~9', mailbox: ALICE, sharedMailboxes: SHARED, authorityHost: 'login.microsoftonline.com', imapHost: '127.0.0.1' };
	const credentials = (): Record<string, IDataObject> => ({
		mailboxMicrosoftAppApi: app,
		mailboxMicrosoftOAuth2Api: { api: 'graph', graphHost: '127.0.0.1', mailbox: ALICE, sharedMailboxes: SHARED, oauthTokenData: { access_token: oauth.issueToken('alice'), token_type: 'Bearer' } },
	});

	async function run(items: INodeExecutionData[], params: Record<string, unknown>, options: { continueOnFail?: boolean; credentials?: Record<string, IDataObject> } = {}): Promise<INodeExecutionData[]> {
		const ctx = baseContext({
			node: { name: 'Mailbox Send Email', type: 'n8n-nodes-mailbox.mailboxSend' },
			items,
			params: { sendVia: 'graph', authentication: 'microsoftOAuth2', mailbox: '', graphUrl: server.url, emailFormat: 'text', reply: false, ...params },
			credentials: options.credentials ?? credentials(),
			continueOnFail: options.continueOnFail,
		});
		const [out] = await new MailboxSend().execute.call(ctx);
		return out;
	}

	/** The requests the endpoint saw from now on. */
	const since = () => {
		const start = server.requests.length;
		return (): GraphRequestLog[] => server.requests.slice(start);
	};

	beforeAll(async () => {
		const tls = localCertificate('graph-send');
		dir = tls.dir;
		mockSeams.ca = tls.ca;
		oauth = await OAuthServer.start({ users: ['alice', 'graphapp'] });
		mockSeams.appToken = () => oauth.issueToken('graphapp');
		server = await GraphServer.start({
			tls: { key: tls.key, cert: tls.ca },
			tokenInfo: (token) => {
				const user = oauth.tokenUser(token);
				return user ? { user, audience: 'https://graph.microsoft.com' } : undefined;
			},
			mailboxes: [ALICE, SHARED, OTHER],
			access: { alice: [SHARED], graphapp: [ALICE, SHARED] },
		});
	});
	afterEach(() => server.throttle(0, 0));
	afterAll(async () => {
		await server?.stop();
		await oauth?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it('sends the message the SMTP path composes, with BCC and the account\'s BCC only in a Bcc header that the transmitted copy leaves out; SHA-256 of the bytes Graph received; Sent Items keeps it', async () => {
		const requests = since();
		const sentBefore = server.sent.length;
		const pdf = crypto.randomBytes(20_000);
		const triggerItem: INodeExecutionData = {
			json: { messageId: '<question-2@customer.test>', references: ['<question-1@customer.test>'], subject: 'Angebot 4711', from: { value: [{ address: 'orders@customer.test', name: 'Orders' }] } },
			binary: { offer: { data: pdf.toString('base64'), mimeType: 'application/pdf', fileName: 'Angebot 4711.pdf' } },
		};
		const [item] = await run([triggerItem], {
			fromEmail: ALICE,
			fromName: 'Müller, Anna (Sales)',
			toEmail: '',
			subject: '',
			emailFormat: 'both',
			text: 'Guten Tag,\nanbei das Angebot.',
			html: '<html><body><p>Guten Tag,</p><p>anbei das Angebot.</p></body></html>',
			reply: true,
			options: { ccEmail: 'dave@contoso.test', bccEmail: 'erin@contoso.test', replyTo: 'sales@contoso.test', attachments: 'offer', headers: { header: [{ name: 'X-Ticket-Id', value: 'T-4711' }] } },
			account: { bccAll: 'archive@contoso.test', signatureText: 'Anna Müller\nACME GmbH', signatureHtml: '<b>Anna Müller</b><br>ACME GmbH', allowedSenders: '@contoso.test' },
		});

		// one request: POST sendMail of the signed-in user's mailbox, the MIME in base64 as text/plain
		const [post] = requests();
		expect(requests()).toHaveLength(1);
		expect(post).toMatchObject({ method: 'POST', path: '/v1.0/me/sendMail', status: 202, principal: 'alice', mailbox: ALICE });
		expect(post.contentType).toMatch(/^text\/plain/);
		expect(server.sent).toHaveLength(sentBefore + 1);
		const sent = server.sent[sentBefore];
		expect(post.body).toBe(sent.raw.toString('base64'));
		expect(sent).toMatchObject({ mailbox: ALICE, format: 'mime', savedToSentItems: true });

		// the item: SHA-256 and size of the bytes the endpoint received
		expect(item.json).toMatchObject({
			sendVia: 'graph',
			mailbox: 'me',
			graphUrl: server.url,
			sha256: crypto.createHash('sha256').update(sent.raw).digest('hex'),
			size: sent.raw.length,
			savedToSentItems: true,
			subject: 'Re: Angebot 4711',
		});
		expect([...(item.json.recipients as string[])].sort()).toEqual(['archive@contoso.test', 'dave@contoso.test', 'erin@contoso.test', 'orders@customer.test']);
		expect(item.pairedItem).toEqual({ item: 0 });

		// byte for byte what the SMTP path composes for the same parameters (same Date, Message-ID and
		// boundaries), with one difference: the Bcc header that Graph takes the BCC recipients from
		const messageId = (await simpleParser(sent.raw)).messageId;
		expect(item.json.messageId).toBe(messageId);
		const input: ComposeInput = {
			fromEmail: ALICE,
			fromName: 'Müller, Anna (Sales)',
			to: ['"Orders" <orders@customer.test>'],
			cc: 'dave@contoso.test',
			bcc: 'erin@contoso.test',
			replyTo: 'sales@contoso.test',
			subject: '',
			text: 'Guten Tag,\nanbei das Angebot.',
			html: '<html><body><p>Guten Tag,</p><p>anbei das Angebot.</p></body></html>',
			attachments: [{ filename: 'Angebot 4711.pdf', contentType: 'application/pdf', content: pdf }],
			headers: [{ name: 'X-Ticket-Id', value: 'T-4711' }],
			inReplyTo: { messageId: '<question-2@customer.test>', references: ['<question-1@customer.test>'], subject: 'Angebot 4711' },
			account: { bccAll: 'archive@contoso.test', signatureText: 'Anna Müller\nACME GmbH', signatureHtml: '<b>Anna Müller</b><br>ACME GmbH', allowedSenders: ['@contoso.test'] },
		};
		const smtp = await composedLike(sent.raw, input);
		const bccLine = 'Bcc: erin@contoso.test, archive@contoso.test\r\n';
		expect(sent.raw.toString('latin1')).toContain(`\r\n${bccLine}`);
		expect(sent.raw.toString('latin1').replace(bccLine, '')).toBe(smtp.raw.toString('latin1'));
		expect(sent.raw.equals((await composedLike(sent.raw, { ...input, bccHeader: true })).raw)).toBe(true);
		// the SMTP envelope and Graph's recipients are the same addresses
		expect([...sent.recipients].sort()).toEqual([...smtp.envelope.to].sort());

		// what leaves for the recipients: no Bcc header, neither BCC address anywhere in the header
		const transmitted = headOf(sent.transmitted);
		expect(transmitted).not.toMatch(/^bcc:/im);
		expect(transmitted).not.toContain('erin@contoso.test');
		expect(transmitted).not.toContain('archive@contoso.test');
		expect(sent.transmitted.toString('latin1')).toBe(smtp.raw.toString('latin1'));

		// signatures, threading and the attachment as composed
		const parsed = await simpleParser(sent.raw);
		expect(parsed.text).toBe('Guten Tag,\nanbei das Angebot.\n\n-- \nAnna Müller\nACME GmbH\n');
		expect(parsed.html).toBe('<html><body><p>Guten Tag,</p><p>anbei das Angebot.</p><div class="signature">-- <br>\n<b>Anna Müller</b><br>ACME GmbH</div>\n</body></html>');
		expect(parsed.inReplyTo).toBe('<question-2@customer.test>');
		expect(parsed.attachments[0].content.equals(pdf)).toBe(true);

		// Exchange keeps the copy in Sent Items (read); nothing else was appended anywhere
		const copies = server.folderMessages(ALICE, 'sentitems').filter((m) => m.internetMessageId === messageId);
		expect(copies).toHaveLength(1);
		expect(copies[0]).toMatchObject({ isRead: true });
		expect(copies[0].raw.equals(sent.raw)).toBe(true);
	});

	it('a Microsoft 365 app sends from a Shared Mailbox of its credential; without BCC the bytes are exactly the SMTP path\'s', async () => {
		const requests = since();
		const sentBefore = server.sent.length;
		const [item] = await run([{ json: {} }], { authentication: 'microsoftApp', mailbox: SHARED, fromEmail: SHARED, toEmail: 'bob@customer.test', subject: 'From the team', text: 'Hello Bob.' });
		expect(requests().map((r) => [r.method, r.path, r.status, r.principal])).toEqual([['POST', '/v1.0/users/shared@contoso.test/sendMail', 202, 'graphapp']]);
		const sent = server.sent[sentBefore];
		expect(sent.mailbox).toBe(SHARED);
		expect(item.json).toMatchObject({ mailbox: SHARED, recipients: ['bob@customer.test'], sha256: crypto.createHash('sha256').update(sent.raw).digest('hex') });
		const smtp = await composedLike(sent.raw, { fromEmail: SHARED, to: 'bob@customer.test', subject: 'From the team', text: 'Hello Bob.' });
		expect(sent.raw.toString('latin1')).toBe(smtp.raw.toString('latin1'));
		expect(sent.raw.equals(smtp.raw)).toBe(true);
		expect(server.folderMessages(SHARED, 'sentitems').some((m) => m.raw.equals(sent.raw))).toBe(true);
	});

	it('allowed senders: a From the account does not allow is refused before Graph is asked; the other items are sent (continue on fail)', async () => {
		const requests = since();
		const sentBefore = server.sent.length;
		const out = await run(
			[{ json: {} }, { json: {} }],
			{ fromEmail: (i: number) => (i === 0 ? 'ceo@contoso.test' : ALICE), toEmail: 'bob@customer.test', subject: (i: number) => `item ${i}`, text: 'x', account: { allowedSenders: ALICE } },
			{ continueOnFail: true },
		);
		expect(out.map((o) => o.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(out[0].json.error).toBe('From Email "ceo@contoso.test" is not allowed to send with this account; nothing was sent.');
		expect(out[0].json.description).toContain('Allowed Sender Addresses');
		expect(out[1].json).toMatchObject({ sendVia: 'graph', subject: 'item 1' });
		expect(server.sent).toHaveLength(sentBefore + 1);
		expect(requests()).toHaveLength(1);

		// without continue on fail: the error, and no request at all
		const error = await failure(run([{ json: {} }], { fromEmail: 'ceo@contoso.test', toEmail: 'bob@customer.test', subject: 'x', text: 'x', account: { allowedSenders: ALICE } }));
		expect(error.message).toBe('From Email "ceo@contoso.test" is not allowed to send with this account; nothing was sent.');
		expect(server.sent).toHaveLength(sentBefore + 1);
		expect(requests()).toHaveLength(1);
	});

	it('waits out a throttled sendMail (429, Retry-After) and sends the message once', async () => {
		const requests = since();
		const sentBefore = server.sent.length;
		server.throttle(1, 0);
		const [item] = await run([{ json: {} }], { fromEmail: ALICE, toEmail: 'bob@customer.test', subject: 'throttled', text: 'x' });
		expect(requests().map((r) => [r.method, r.path, r.status, r.errorCode])).toEqual([
			['POST', '/v1.0/me/sendMail', 429, 'TooManyRequests'],
			['POST', '/v1.0/me/sendMail', 202, undefined],
		]);
		expect(server.sent).toHaveLength(sentBefore + 1);
		expect(item.json.sha256).toBe(crypto.createHash('sha256').update(server.sent[sentBefore].raw).digest('hex'));
		expect(requests()[0].body).toBe(requests()[1].body);
	});

	it('errors name the field, and nothing is sent', async () => {
		const sentBefore = server.sent.length;
		const base = { fromEmail: ALICE, toEmail: 'bob@customer.test', subject: 'x', text: 'x' };
		const cases: Array<[Record<string, unknown>, Record<string, IDataObject> | undefined, string]> = [
			[{ graphUrl: server.url.replace('https:', 'http:') }, undefined, 'does not use HTTPS'],
			[{ graphUrl: 'https://graph.example.test/v1.0' }, undefined, 'Graph URL: the Microsoft 365 access token for Graph goes only to Microsoft Graph'],
			[{ mailbox: OTHER }, undefined, `Mailbox "${OTHER}" is not one of the credential's shared mailboxes`],
			[{ fromEmail: '' }, undefined, 'From Email is empty.'],
			[{ toEmail: 'not an address' }, undefined, 'To: '],
			[{}, { mailboxMicrosoftOAuth2Api: { ...credentials().mailboxMicrosoftOAuth2Api, api: 'exchange' } }, 'holds a token for the Exchange protocols'],
		];
		for (const [params, creds, expected] of cases) {
			const error = await failure(run([{ json: {} }], { ...base, ...params }, { credentials: creds }));
			expect(error.message).toContain(expected);
		}
		// Graph's own refusal: a mailbox the signed-in user may not send from
		const denied = await failure(
			run([{ json: {} }], { ...base, mailbox: OTHER }, { credentials: { mailboxMicrosoftOAuth2Api: { ...credentials().mailboxMicrosoftOAuth2Api, sharedMailboxes: `${SHARED}, ${OTHER}` } } }),
		);
		expect(`${denied.message} ${denied.description ?? ''}`).toContain(OTHER);
		expect(server.sent).toHaveLength(sentBefore);
	});

	it('Send Via defaults to SMTP (saved workflows unchanged); with Graph the SMTP and IMAP Sent-copy options and credentials are hidden', () => {
		const description = new MailboxSend().description;
		const byName = (name: string) => description.properties.filter((p: INodeProperties) => p.name === name);
		expect(byName('sendVia')[0]).toMatchObject({ default: 'smtp' });
		expect(String(byName('sendVia')[0].options?.map((o) => ('description' in o ? o.description : '')).join(' '))).toContain('saves every message sent this way in Sent Items');
		for (const name of ['saveToSent', 'sentFolder', 'smtpHost', 'serverOverride', 'serverOverrideSecurity']) expect(byName(name)[0].displayOptions?.hide?.sendVia).toEqual(['graph']);
		for (const name of ['mailbox', 'graphUrl']) expect(byName(name)[0].displayOptions?.show?.sendVia).toEqual(['graph']);
		const smtpAuth = byName('authentication').find((p) => p.displayOptions?.show?.sendVia?.includes('smtp'));
		expect(smtpAuth).toMatchObject({ default: 'password' });
		const credentialsShown = (name: string) => description.credentials?.find((c) => c.name === name)?.displayOptions?.show;
		expect(credentialsShown('mailboxSmtpApi')).toMatchObject({ sendVia: ['smtp'] });
		expect(credentialsShown('mailboxImapApi')).toMatchObject({ sendVia: ['smtp'], saveToSent: [true] });
	});
});
