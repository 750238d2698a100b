import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { checkImapConnection, type ConnectionCheckResult } from '../../../../lib/imap/check';
import { checkLogin } from '../../../../lib/connection/options';
import { loginForMailbox, parseSharedMailboxes } from '../../../../lib/connection/shared-mailboxes';
import { MailboxError } from '../../../../lib/errors';
import { checkPop3Connection } from '../../../../lib/pop3/check';
import { checkSmtpConnection } from '../../../../lib/smtp/check';
import { POP3_CREDENTIAL, pop3SettingsFromCredential } from '../../../shared/pop3-credentials';
import { SMTP_CREDENTIAL, smtpSettingsFromCredential } from '../../../shared/smtp-credentials';
import { GOOGLE_SERVICE_ACCOUNT_CREDENTIAL, googleServiceAccountLogin, imapConnectionOf, type Authentication } from '../../../shared/credentials';
import { toNodeError } from '../../../shared/errors';
import { n8nLogger } from '../../../shared/logger';
import { checkEwsConnection } from '../../../../lib/ews/check';
import { ewsSettingsForNode } from '../../transport';
import { accessViaOf } from '../access';
import { checkGraphConnection } from '../../../../lib/graph/check';
import { graphConnection } from '../../../shared/connection';
import { MICROSOFT_DELEGATED_CREDENTIAL } from '../../../shared/microsoft-oauth2';
import { MICROSOFT_APP_CREDENTIAL } from '../../../shared/credentials';

export const description: INodeProperties[] = [
	{
		displayName: 'Server',
		name: 'protocol',
		type: 'options',
		noDataExpression: true,
		default: 'imap',
		displayOptions: { show: { resource: ['connection'], operation: ['check'], authentication: ['password'] }, hide: { accessVia: ['ews', 'graph'] } },
		options: [
			{ name: 'IMAP (Incoming)', value: 'imap', description: 'Check with a Mailbox IMAP credential' },
			{ name: 'POP3 (Incoming)', value: 'pop3', description: 'Check with a Mailbox POP3 credential: login (USER/PASS or APOP) and the maildrop' },
			{ name: 'SMTP (Outgoing)', value: 'smtp', description: 'Check with a Mailbox SMTP credential: EHLO, STARTTLS and AUTH' },
		],
		description: 'Which server to check',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show: { resource: ['connection'], operation: ['check'] } },
		options: [
			{
				displayName: 'Fail When the Check Fails',
				name: 'failOnError',
				type: 'boolean',
				default: false,
				description: 'Whether a failed check stops the workflow. Off: the item reports ok = false with the failed step, so the workflow can alert someone.',
			},
		],
	},
];

/**
 * IMAP with any of the node's Authentications: the account and its shared mailboxes, or the one
 * named. The credential's settings as they are (not resolved by nodes/shared/connection.ts): the
 * check reports each step, a setting that does not resolve among them.
 */
async function checkImap(ctx: IExecuteFunctions, itemIndex: number, authentication: Authentication): Promise<ConnectionCheckResult> {
	// A Mailbox named on the node: check that one. Otherwise the account and all its shared mailboxes.
	const mailbox = (ctx.getNodeParameter('mailbox', itemIndex, '') as string).trim();
	const logger = n8nLogger(ctx.logger);
	const { settings, login, sharedMailboxes } = await imapConnectionOf(authentication, (name) => ctx.getCredentials(name, itemIndex), logger, { ctx, itemIndex }, mailbox);
	// a Google service account signs in to each user with that user's own token
	const sharedLogin =
		authentication === 'googleServiceAccount' ? async (_account: unknown, user: string) => googleServiceAccountLogin(await ctx.getCredentials(GOOGLE_SERVICE_ACCOUNT_CREDENTIAL, itemIndex), user, logger) : undefined;
	return mailbox
		? await checkImapConnection(settings, loginForMailbox(checkLogin(login), sharedMailboxes, mailbox), logger)
		: await checkImapConnection(settings, login, logger, { sharedMailboxes, sharedLogin });
}

/** Runs the step-by-step connection check and reports each step as data. */
export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', itemIndex, {}) as { failOnError?: boolean };
	const authentication = this.getNodeParameter('authentication', itemIndex, 'password') as Authentication;
	let result: ConnectionCheckResult;
	try {
		const accessVia = accessViaOf(this, itemIndex);
		const protocol = accessVia !== 'imap' ? accessVia : authentication === 'password' ? (this.getNodeParameter('protocol', itemIndex, 'imap') as string) : 'imap';
		if (protocol === 'graph') {
			// token for Graph, HTTPS and certificate, the mailbox's Inbox (a missing permission or access policy names what to grant)
			const mailbox = String(this.getNodeParameter('mailbox', itemIndex, '') ?? '').trim();
			const options = await graphConnection(this, { authentication, mailbox, graphUrl: String(this.getNodeParameter('graphUrl', itemIndex, '') ?? '') });
			// no Mailbox named: the credential's own and each of its shared mailboxes, as over IMAP
			const credential = await this.getCredentials(authentication === 'microsoftApp' ? MICROSOFT_APP_CREDENTIAL : MICROSOFT_DELEGATED_CREDENTIAL, itemIndex);
			result = await checkGraphConnection(options, mailbox ? [] : parseSharedMailboxes(credential.sharedMailboxes as string | undefined));
		} else if (protocol === 'ews') {
			// token (app), HTTPS and certificate, sign-in, the mailbox's Inbox; a missing permission names what to grant
			result = await checkEwsConnection(await ewsSettingsForNode(this, itemIndex));
		} else if (protocol === 'pop3') {
			const { settings, login, apop } = pop3SettingsFromCredential(await this.getCredentials(POP3_CREDENTIAL, itemIndex));
			result = await checkPop3Connection(settings, login, { apop }, n8nLogger(this.logger));
		} else if (protocol === 'smtp') {
			const { settings, login } = smtpSettingsFromCredential(await this.getCredentials(SMTP_CREDENTIAL, itemIndex));
			result = await checkSmtpConnection(settings, login, n8nLogger(this.logger));
		} else {
			result = await checkImap(this, itemIndex, authentication);
		}
	} catch (error) {
		// Settings or the app token could not be had: a failed check, not a broken node.
		if (!(error instanceof MailboxError)) throw toNodeError(this.getNode(), error, itemIndex);
		result = { ok: false, message: error.fullMessage, steps: [{ step: error.step === 'config' ? 'config' : 'login', ok: false, detail: error.fullMessage }], error };
	}
	if (!result.ok && options.failOnError && result.error) throw toNodeError(this.getNode(), result.error, itemIndex);
	const json: IDataObject = {
		ok: result.ok,
		message: result.message,
		steps: result.steps.map((s) => ({ ...s })),
		failedStep: result.steps.find((s) => !s.ok)?.step ?? null,
		errorCode: result.error?.code ?? null,
		field: result.error?.field ?? null,
		checkedAt: new Date().toISOString(),
	};
	return [{ json, pairedItem: { item: itemIndex } }];
}
