import { MailboxImapApi } from '../../../credentials/MailboxImapApi.credentials';
import { Mailbox } from '../../../nodes/Mailbox/Mailbox.node';
import { imapSettingsFromCredential } from '../../../nodes/shared/credentials';
import pkg from '../../../package.json';

describe('package and descriptions', () => {
	const credential = new MailboxImapApi();
	const node = new Mailbox();

	it('lists every node and credential in the n8n section, pointing at built files', () => {
		expect(pkg.name).toMatch(/^n8n-nodes-/);
		expect(pkg.keywords).toContain('n8n-community-node-package');
		expect(pkg.n8n.n8nNodesApiVersion).toBe(1);
		expect(pkg.n8n.credentials).toEqual(['dist/credentials/MailboxImapApi.credentials.js', 'dist/credentials/MailboxMicrosoftAppApi.credentials.js', 'dist/credentials/MailboxMicrosoftOAuth2Api.credentials.js']);
		expect(pkg.n8n.nodes).toEqual(['dist/nodes/Mailbox/Mailbox.node.js']);
		expect(pkg.peerDependencies).toHaveProperty('n8n-workflow');
	});

	it('maps every credential field the user fills in to the connection settings', () => {
		const names = credential.properties.map((p) => p.name).sort();
		expect(names).toEqual(['allowSelfSigned', 'host', 'password', 'port', 'proxy', 'proxyHost', 'proxyPassword', 'proxyPort', 'proxyUser', 'security', 'server', 'sharedMailboxes', 'tlsVersion', 'user']);
		const data = { host: 'imap.example.com', port: 1993, security: 'starttls', tlsVersion: 'min-1.2', user: 'u', password: 'p', allowSelfSigned: true, sharedMailboxes: 'info@example.com; sales@example.com' };
		expect(imapSettingsFromCredential(data)).toEqual({
			settings: { host: 'imap.example.com', port: 1993, security: 'starttls', tlsVersion: 'min-1.2', allowUnauthorizedCerts: true, proxy: undefined },
			login: { user: 'u', password: 'p' },
			sharedMailboxes: ['info@example.com', 'sales@example.com'],
		});
		const viaProxy = imapSettingsFromCredential({ ...data, proxy: 'socks5', proxyHost: 'proxy.example.com', proxyPort: 1081, proxyUser: 'pu', proxyPassword: 'pp' });
		expect(viaProxy.settings.proxy).toEqual({ type: 'socks5', host: 'proxy.example.com', port: 1081, user: 'pu', password: 'pp' });
	});

	it('keeps certificate checks on and the password hidden by default', () => {
		const byName = Object.fromEntries(credential.properties.map((p) => [p.name, p]));
		expect(byName.allowSelfSigned.default).toBe(false);
		expect(byName.password.typeOptions?.password).toBe(true);
		expect(byName.proxyPassword.typeOptions?.password).toBe(true);
		expect(byName.proxy.default).toBe('none');
		expect(byName.security.default).toBe('tls');
	});

	it('tests the credential through the node and offers the node to AI agents', () => {
		expect(node.description.credentials).toEqual([
			{ name: credential.name, required: true, testedBy: 'mailboxImapConnectionTest', displayOptions: { show: { authentication: ['password'] } } },
			{ name: 'mailboxMicrosoftAppApi', required: true, testedBy: 'mailboxMicrosoftAppTest', displayOptions: { show: { authentication: ['microsoftApp'] } } },
			// OAuth2 credentials: n8n's own test (is an account connected?) applies
			{ name: 'mailboxMicrosoftOAuth2Api', required: true, displayOptions: { show: { authentication: ['microsoftOAuth2'] } } },
		]);
		expect(typeof node.methods.credentialTest.mailboxImapConnectionTest).toBe('function');
		expect(typeof node.methods.credentialTest.mailboxMicrosoftAppTest).toBe('function');
		expect(node.description.usableAsTool).toBe(true);
	});
});
