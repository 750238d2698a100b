import { MailboxImapApi } from '../../../credentials/MailboxImapApi.credentials';
import { Mailbox } from '../../../nodes/Mailbox/Mailbox.node';
import { imapSettingsFromCredential } from '../../../nodes/shared/credentials';
import type { INodeProperties } from 'n8n-workflow';
import pkg from '../../../package.json';

describe('package and descriptions', () => {
	const credential = new MailboxImapApi();
	const node = new Mailbox();

	it('lists every node and credential in the n8n section, pointing at built files', () => {
		expect(pkg.name).toMatch(/^n8n-nodes-/);
		expect(pkg.keywords).toContain('n8n-community-node-package');
		expect(pkg.n8n.n8nNodesApiVersion).toBe(1);
		expect(pkg.n8n.credentials).toEqual([
			'dist/credentials/MailboxEwsApi.credentials.js',
			'dist/credentials/MailboxGoogleOAuth2Api.credentials.js',
			'dist/credentials/MailboxGoogleServiceAccountApi.credentials.js',
			'dist/credentials/MailboxImapApi.credentials.js',
			'dist/credentials/MailboxMicrosoftAppApi.credentials.js',
			'dist/credentials/MailboxMicrosoftOAuth2Api.credentials.js',
			'dist/credentials/MailboxPop3Api.credentials.js',
			'dist/credentials/MailboxSmtpApi.credentials.js',
		]);
		expect(pkg.n8n.nodes).toEqual(['dist/nodes/Mailbox/Mailbox.node.js', 'dist/nodes/MailboxEwsTrigger/MailboxEwsTrigger.node.js', 'dist/nodes/MailboxImapTrigger/MailboxImapTrigger.node.js', 'dist/nodes/MailboxPop3Trigger/MailboxPop3Trigger.node.js', 'dist/nodes/MailboxRouter/MailboxRouter.node.js', 'dist/nodes/MailboxSend/MailboxSend.node.js']);
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

	it('offers every credential on the node, each with a Test (for OAuth2 the one of n8n), shown for the matching Authentication and Server', () => {
		const names = (pkg.n8n.credentials as string[]).map((file) => {
			// eslint-disable-next-line @typescript-eslint/no-require-imports
			const mod = require(`../../../${file.replace(/^dist\//, '').replace(/\.js$/, '')}`) as Record<string, new () => { name: string; extends?: string[] }>;
			const instance = new (Object.values(mod)[0])();
			return { name: instance.name, oauth2: instance.extends?.includes('oAuth2Api') ?? false };
		});
		const onNode = node.description.credentials ?? [];
		expect(onNode.map((c) => c.name).sort()).toEqual(names.map((n) => n.name).sort());
		const methods = node.methods.credentialTest as Record<string, unknown>;
		for (const { name, oauth2 } of names) {
			const entry = onNode.find((c) => c.name === name);
			if (oauth2) expect(entry?.testedBy).toBeUndefined();
			else expect(typeof methods[entry?.testedBy as string]).toBe('function');
		}
		const shownFor = (authentication: string, protocol?: string) =>
			onNode
				.filter((c) => c.displayOptions?.show?.authentication?.includes(authentication))
				.filter((c) => (protocol ? (c.displayOptions?.show?.protocol ?? [protocol]).includes(protocol) && !c.displayOptions?.hide?.protocol?.includes(protocol) : !c.displayOptions?.show?.protocol))
				.map((c) => c.name);
		expect(shownFor('password')).toEqual(['mailboxImapApi']);
		expect(shownFor('password', 'imap')).toEqual(['mailboxImapApi']);
		expect(shownFor('password', 'pop3')).toEqual(['mailboxPop3Api']);
		expect(shownFor('password', 'smtp')).toEqual(['mailboxSmtpApi']);
		expect(shownFor('microsoftApp')).toEqual(['mailboxMicrosoftAppApi']);
		expect(shownFor('microsoftOAuth2')).toEqual(['mailboxMicrosoftOAuth2Api']);
		expect(node.description.usableAsTool).toBe(true);
	});

	it('gives every resource of the Mailbox node at least one operation, and no node an empty choice list (n8n 2.41 fails to load such a node)', () => {
		const nodes = (pkg.n8n.nodes as string[]).map((file) => {
			// eslint-disable-next-line @typescript-eslint/no-require-imports
			const mod = require(`../../../${file.replace(/^dist\//, '').replace(/\.js$/, '')}`) as Record<string, new () => { description: { name: string; properties: INodeProperties[] } }>;
			return new (Object.values(mod)[0])().description;
		});
		const emptyLists = (properties: readonly unknown[], where: string): string[] =>
			properties.flatMap((p) => {
				const property = p as { name?: string; type?: string; options?: unknown[]; values?: unknown[] };
				const here = `${where}/${property.name ?? '?'}`;
				if (!Array.isArray(property.options) && !Array.isArray(property.values)) return [];
				if (property.type === 'options' || property.type === 'multiOptions') return property.options?.length ? [] : [here];
				return emptyLists([...(property.options ?? []), ...(property.values ?? [])], here);
			});
		expect(nodes.flatMap((d) => emptyLists(d.properties, d.name))).toEqual([]);

		const resources = node.description.properties.find((p) => p.name === 'resource')?.options as Array<{ value: string }>;
		for (const { value } of resources) {
			const operation = node.description.properties.find((p) => p.name === 'operation' && p.displayOptions?.show?.resource?.includes(value));
			expect({ resource: value, operations: (operation?.options ?? []).length > 0 }).toEqual({ resource: value, operations: true });
		}
	});
});
