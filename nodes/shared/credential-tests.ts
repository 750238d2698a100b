import type { ICredentialDataDecryptedObject, ICredentialsDecrypted, ICredentialTestFunctions, INodeCredentialTestResult } from 'n8n-workflow';
import { checkImapConnection, type ConnectionCheckResult } from '../../lib/imap/check';
import { checkEwsConnection } from '../../lib/ews/check';
import { MailboxError } from '../../lib/errors';
import { checkPop3Connection } from '../../lib/pop3/check';
import { checkSmtpConnection } from '../../lib/smtp/check';
import { googleServiceAccountLogin, imapSettingsFromCredential, imapSettingsFromGoogleServiceAccount, imapSettingsFromMicrosoftApp } from './credentials';
import { pop3SettingsFromCredential } from './pop3-credentials';
import { smtpSettingsFromCredential } from './smtp-credentials';
import { ewsSettingsFromCredential } from './ews-settings';

function credentialData(credential: ICredentialsDecrypted): ICredentialDataDecryptedObject {
	return (credential.data ?? {}) as ICredentialDataDecryptedObject;
}

/** The credential dialog's Test: a connection check's one-line answer, or why the settings are unusable. */
async function testWith(check: () => Promise<ConnectionCheckResult>): Promise<INodeCredentialTestResult> {
	try {
		const result = await check();
		return { status: result.ok ? 'OK' : 'Error', message: result.message };
	} catch (error) {
		return { status: 'Error', message: error instanceof MailboxError ? error.fullMessage : String(error) };
	}
}

/**
 * The credential Tests, one per credential type (OAuth2 ones are tested by n8n itself). Every node
 * that offers a credential names the matching method with `testedBy` and lists these methods.
 */
export const credentialTests = {
	/** IMAP: the account and each of its shared mailboxes. */
	async mailboxImapConnectionTest(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
		return testWith(async () => {
			const { settings, login, sharedMailboxes } = imapSettingsFromCredential(credentialData(credential));
			return checkImapConnection(settings, login, undefined, { sharedMailboxes });
		});
	},
	async mailboxPop3ConnectionTest(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
		return testWith(async () => {
			const { settings, login, apop } = pop3SettingsFromCredential(credentialData(credential));
			return checkPop3Connection(settings, login, { apop });
		});
	},
	async mailboxSmtpConnectionTest(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
		return testWith(async () => {
			const { settings, login } = smtpSettingsFromCredential(credentialData(credential));
			return checkSmtpConnection(settings, login);
		});
	},
	/** Microsoft 365 app: the MSAL token, then the IMAP login with it (and the shared mailboxes). */
	async mailboxMicrosoftAppTest(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
		return testWith(async () => {
			const { settings, login, sharedMailboxes } = await imapSettingsFromMicrosoftApp(credentialData(credential));
			return checkImapConnection(settings, login, undefined, { sharedMailboxes });
		});
	},
	/**
	 * Google Workspace service account: a token for the credential's user from Google (delegation
	 * refused, key revoked, user unknown: named), the IMAP login with it and the Inbox's counts, then
	 * the same for each shared mailbox with that user's own token.
	 */
	async mailboxGoogleServiceAccountTest(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
		return testWith(async () => {
			const data = credentialData(credential);
			const { settings, login, sharedMailboxes } = await imapSettingsFromGoogleServiceAccount(data);
			return checkImapConnection(settings, login, undefined, { sharedMailboxes, sharedLogin: async (_account, user) => googleServiceAccountLogin(data, user) });
		});
	},
	/** On-premises Exchange (mailboxEwsApi): sign in at the EWS URL and read the Inbox of the credential's mailbox. */
	async mailboxEwsConnectionTest(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
		return testWith(async () => checkEwsConnection(ewsSettingsFromCredential(credentialData(credential))));
	},
};
