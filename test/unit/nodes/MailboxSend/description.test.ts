import { MailboxSend } from '../../../../nodes/MailboxSend/MailboxSend.node';

describe('Mailbox Send Email description', () => {
	const node = new MailboxSend();
	const { description } = node;

	it('is the mailboxSend node, usable as a tool', () => {
		expect(description.name).toBe('mailboxSend');
		expect(description.displayName).toBe('Mailbox Send Email');
		expect(description.usableAsTool).toBe(true);
	});

	it('offers the SMTP credential for password sign-in, the IMAP one only for the Sent copy, and Microsoft 365 for XOAUTH2, each with its Test', () => {
		const credentials = description.credentials ?? [];
		const methods = node.methods.credentialTest as Record<string, unknown>;
		const byName = Object.fromEntries(credentials.map((c) => [c.name, c]));
		expect(Object.keys(byName).sort()).toEqual(['mailboxGoogleOAuth2Api', 'mailboxGoogleServiceAccountApi', 'mailboxImapApi', 'mailboxMicrosoftAppApi', 'mailboxMicrosoftOAuth2Api', 'mailboxSmtpApi']);
		// Google signs in to SMTP only (Gmail keeps the Sent copy itself), the service account with its Test
		expect(byName.mailboxGoogleServiceAccountApi.displayOptions?.show).toEqual({ sendVia: ['smtp'], authentication: ['googleServiceAccount'] });
		expect(methods[byName.mailboxGoogleServiceAccountApi.testedBy as string]).toBeInstanceOf(Function);
		expect(byName.mailboxGoogleOAuth2Api.displayOptions?.show).toEqual({ sendVia: ['smtp'], authentication: ['googleOAuth2'] });
		expect(byName.mailboxSmtpApi.displayOptions?.show).toEqual({ authentication: ['password'], sendVia: ['smtp'] });
		expect(byName.mailboxImapApi.displayOptions?.show).toEqual({ authentication: ['password'], saveToSent: [true], sendVia: ['smtp'] });
		expect(byName.mailboxMicrosoftAppApi.displayOptions?.show).toEqual({ authentication: ['microsoftApp'] });
		expect(byName.mailboxMicrosoftOAuth2Api.testedBy).toBeUndefined();
		for (const name of ['mailboxSmtpApi', 'mailboxImapApi', 'mailboxMicrosoftAppApi']) expect(typeof methods[byName[name].testedBy as string]).toBe('function');
	});

	it('has the fields of the issue, with the 587 hint and nothing risky on by default', () => {
		const names = description.properties.map((p) => p.name);
		for (const name of ['fromEmail', 'fromName', 'toEmail', 'subject', 'emailFormat', 'text', 'html', 'reply', 'saveToSent', 'sentFolder', 'options', 'account', 'serverOverride']) expect(names).toContain(name);
		const options = description.properties.find((p) => p.name === 'options')?.options?.map((o) => o.name);
		expect(options).toEqual(expect.arrayContaining(['attachments', 'bccEmail', 'ccEmail', 'headers', 'replyTo', 'inReplyTo']));
		const account = description.properties.find((p) => p.name === 'account')?.options?.map((o) => o.name);
		expect(account).toEqual(expect.arrayContaining(['allowedSenders', 'bccAll', 'signatureHtml', 'signatureText']));
		expect(JSON.stringify(description.properties)).toMatch(/587 often works where SSL\/TLS on port 465 is blocked/);
		expect(description.properties.find((p) => p.name === 'saveToSent')?.default).toBe(false);
		expect(description.properties.find((p) => p.name === 'reply')?.default).toBe(false);
	});
});
