import type { INodeProperties } from 'n8n-workflow';

/** Gmail's IMAP, POP3 and SMTP servers, for the Google credentials (the access token goes only there). */
export const googleServerFields: INodeProperties[] = [
	{
		displayName: 'IMAP Host',
		name: 'imapHost',
		type: 'string',
		default: 'imap.gmail.com',
		description: "Gmail's IMAP server (SSL/TLS); the access token goes only to the hosts named here",
	},
	{
		displayName: 'IMAP Port',
		name: 'imapPort',
		type: 'number',
		default: 993,
		typeOptions: { minValue: 1, maxValue: 65535 },
	},
	{
		displayName: 'POP3 Host',
		name: 'pop3Host',
		type: 'string',
		default: 'pop.gmail.com',
		description: "Gmail's POP3 server (SSL/TLS), for the POP3 trigger",
	},
	{
		displayName: 'POP3 Port',
		name: 'pop3Port',
		type: 'number',
		default: 995,
		typeOptions: { minValue: 1, maxValue: 65535 },
	},
	{
		displayName: 'SMTP Host',
		name: 'smtpHost',
		type: 'string',
		default: 'smtp.gmail.com',
		description: "Gmail's SMTP server, for Send Email",
	},
	{
		displayName: 'SMTP Port',
		name: 'smtpPort',
		type: 'number',
		default: 465,
		typeOptions: { minValue: 1, maxValue: 65535 },
		description: '465: SSL/TLS from the first byte; 587: STARTTLS (required)',
	},
];
