import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { withLoginRenewal } from '../../../../lib/auth/oauth2-token';
import type { Security } from '../../../../lib/connection/options';
import { withinCredential } from '../../../../lib/connection/scope';
import { sieveServerFrom, withManageSieve } from '../../../../lib/sieve/connect';
import { MANAGESIEVE_PORT } from '../../../../lib/sieve/errors';
import type { ManageSieveClient } from '../../../../lib/sieve/managesieve';
import type { OutOfOfficeState } from '../../../../lib/sieve/out-of-office';
import { imapConnection, isGoogleAuthentication, type Authentication } from '../../../shared/connection';
import { n8nLogger } from '../../../shared/logger';

/** The ManageSieve connection options every Out of Office operation has (inside its Options). */
export const sieveConnectionOptions: INodeProperties[] = [
	{
		displayName: 'ManageSieve Port',
		name: 'sievePort',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 65535 },
		default: MANAGESIEVE_PORT,
		description: `Port of the server's ManageSieve service (RFC 5804), on the same host as IMAP. Usually ${MANAGESIEVE_PORT}; some older servers use 2000.`,
	},
	{
		displayName: 'ManageSieve Security',
		name: 'sieveSecurity',
		type: 'options',
		options: [
			{ name: 'None (Trusted Network Only)', value: 'none', description: 'No encryption: the password is sent in clear' },
			{ name: 'SSL/TLS', value: 'tls', description: 'TLS from the first byte (rare for ManageSieve)' },
			{ name: 'STARTTLS', value: 'starttls', description: 'Plain connection upgraded to TLS; fails when the server does not offer it' },
			{ name: 'STARTTLS if Offered', value: 'starttls-optional', description: 'Upgraded when the server offers STARTTLS, else unencrypted' },
		],
		default: 'starttls',
		description: 'How the ManageSieve connection is encrypted: at least as protected as the credential\'s IMAP Security, since the same password or token is sent. Certificate checks and the TLS version follow the credential.',
	},
];

/** The Options of an operation that has no other options than the ManageSieve connection (Get, Clear). */
export function sieveOptionsProperty(operation: string): INodeProperties {
	return {
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show: { resource: ['outOfOffice'], operation: [operation] } },
		options: [...sieveConnectionOptions],
	};
}

const NO_SIEVE_AT_MICROSOFT = 'Microsoft 365 and Outlook.com offer no ManageSieve: their automatic replies are set in Outlook or through Microsoft Graph.';
const NO_SIEVE_AT_GOOGLE = "Gmail and Google Workspace offer no ManageSieve: the vacation responder is set in Gmail's settings (or by the Gmail API's settings.updateVacation).";

/**
 * Opens a ManageSieve session for an item with the node's credential (password, Microsoft app or
 * delegated OAuth2; the Mailbox parameter picks a shared mailbox), runs `work` and logs out. The
 * host, certificate rules and proxy are the IMAP credential's; port and security the options'.
 */
export async function withSieve<T>(ctx: IExecuteFunctions, itemIndex: number, work: (client: ManageSieveClient) => Promise<T>): Promise<T> {
	const authentication = ctx.getNodeParameter('authentication', itemIndex, 'password') as Authentication;
	const options = ctx.getNodeParameter('options', itemIndex, {}) as { sievePort?: number; sieveSecurity?: Security };
	const logger = n8nLogger(ctx.logger);
	const mailbox = ctx.getNodeParameter('mailbox', itemIndex, '') as string;
	const { server: imap, login: account, renewToken } = await imapConnection(ctx, { authentication, mailbox, itemIndex });
	// the IMAP password or token goes to ManageSieve no less protected than the credential asks for IMAP
	const server = withinCredential({ credential: imap, chosen: sieveServerFrom(imap, { port: options.sievePort, security: options.sieveSecurity }), carriesLogin: true, field: 'sieveSecurity', label: 'ManageSieve Security' });
	const connectOptions = { logger, noSieveHint: authentication === 'password' ? undefined : isGoogleAuthentication(authentication) ? NO_SIEVE_AT_GOOGLE : NO_SIEVE_AT_MICROSOFT };
	return (await withLoginRenewal(account, renewToken, (login) => withManageSieve(server, login, ({ client }) => work(client), connectOptions))).value;
}

/** The output item of every Out of Office operation: the state as it is on the server afterwards. */
export function stateJson(state: OutOfOfficeState, extra: IDataObject = {}): IDataObject {
	const s = state.settings;
	return {
		enabled: state.enabled,
		status: state.status,
		subject: s?.subject ?? null,
		text: s?.text ?? null,
		startDate: s?.start?.toISOString() ?? null,
		endDate: s?.end?.toISOString() ?? null,
		days: s ? s.days : null,
		addresses: s?.addresses ?? [],
		from: s?.from ?? null,
		includedScript: s?.includeScript ?? null,
		scriptName: state.scriptName,
		scriptExists: state.scriptExists,
		activeScript: state.activeScript,
		otherAutoReplyActive: state.otherAutoReplyActive,
		...extra,
	};
}
