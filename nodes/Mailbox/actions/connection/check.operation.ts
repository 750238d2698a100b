import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { checkImapConnection, type ConnectionCheckResult } from '../../../../lib/connection/check';
import { checkLogin } from '../../../../lib/connection/options';
import { loginForMailbox } from '../../../../lib/connection/shared-mailboxes';
import { MailboxError } from '../../../../lib/errors';
import { imapConnectionOf, type Authentication } from '../../../shared/credentials';
import { toNodeError } from '../../../shared/errors';
import { n8nLogger } from '../../../shared/logger';

export const description: INodeProperties[] = [
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

/** Runs the step-by-step connection check and reports each step as data. */
export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', itemIndex, {}) as { failOnError?: boolean };
	const authentication = this.getNodeParameter('authentication', itemIndex, 'password') as Authentication;
	let result: ConnectionCheckResult;
	try {
		const { settings, login, sharedMailboxes } = await imapConnectionOf(authentication, (name) => this.getCredentials(name, itemIndex), n8nLogger(this.logger));
		// A Mailbox named on the node: check that one. Otherwise the account and all its shared mailboxes.
		const mailbox = (this.getNodeParameter('mailbox', itemIndex, '') as string).trim();
		result = mailbox
			? await checkImapConnection(settings, loginForMailbox(checkLogin(login), sharedMailboxes, mailbox), n8nLogger(this.logger))
			: await checkImapConnection(settings, login, n8nLogger(this.logger), { sharedMailboxes });
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
