import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { isRejectedToken } from '../errors';
import { isTokenLogin, type Login, type ResolvedServer } from '../connection/options';
import { silentLogger, type Logger } from '../logger';
import type { ComposedMessage } from './compose';
import { fromSmtpError } from './errors';
import { smtpTransportOptions } from './transport';

/** What the server said about one sent message, and where and what exactly was sent. */
export interface SendResult {
	messageId: string;
	accepted: string[];
	rejected: string[];
	/** The server's final answer to the message, e.g. "250 2.0.0 Ok: queued as …". */
	response: string;
	/** host:port of the SMTP server. */
	server: string;
	security: ResolvedServer['security'];
	envelope: { from: string; to: string[] };
	/** SHA-256 (hex) of the exact bytes sent. */
	sha256: string;
	size: number;
}

const addressOf = (entry: unknown): string => (typeof entry === 'string' ? entry : ((entry as { address?: string })?.address ?? String(entry)));

/**
 * A pooled SMTP transport for many messages in a row (one node run): up to `maxConnections`
 * connections, reused from message to message, all closed by close(). It sends composed messages
 * as they are, byte for byte, with their own envelope.
 */
export class SmtpSender {
	private transporter: Transporter<SMTPPool.SentMessageInfo>;
	private renewal?: Promise<void>;
	private readonly retired: Array<Transporter<SMTPPool.SentMessageInfo>> = [];
	private readonly logger: Logger;
	private readonly maxConnections: number;
	private readonly renewToken?: () => Promise<string>;

	constructor(
		readonly server: ResolvedServer,
		private login: Login | undefined,
		options: {
			maxConnections?: number;
			logger?: Logger;
			/** For a token login: fetches a new token once, when the server rejected the current one (delegated OAuth2). */
			renewToken?: () => Promise<string>;
		} = {},
	) {
		this.logger = options.logger ?? silentLogger;
		this.maxConnections = options.maxConnections ?? 5;
		this.renewToken = options.renewToken;
		this.transporter = this.createTransporter();
	}

	private createTransporter(): Transporter<SMTPPool.SentMessageInfo> {
		const base = smtpTransportOptions(this.server, this.login, this.logger);
		const poolOptions: SMTPPool.Options = { ...(base as SMTPPool.Options), pool: true, maxConnections: this.maxConnections };
		return nodemailer.createTransport(poolOptions);
	}

	private async sendOnce(message: ComposedMessage): Promise<SMTPPool.SentMessageInfo> {
		try {
			return await this.transporter.sendMail({ envelope: message.envelope, raw: message.raw });
		} catch (error) {
			throw fromSmtpError(error, this.server, this.login);
		}
	}

	/** One renewal per sender: a new token, and a new pool that logs in with it. */
	private async renew(renewToken: () => Promise<string>): Promise<void> {
		const login = this.login;
		if (!login || !isTokenLogin(login)) return;
		const accessToken = await renewToken();
		this.login = { ...login, accessToken };
		// The old pool keeps its queue: those messages fail with the old token and come back here.
		this.retired.push(this.transporter);
		this.transporter = this.createTransporter();
	}

	/**
	 * Sends the message; failures are MailboxErrors naming the cause, never a secret. A rejected
	 * access token is renewed once (when the sender has renewToken) and the message sent again.
	 */
	async send(message: ComposedMessage): Promise<SendResult> {
		let info: SMTPPool.SentMessageInfo;
		try {
			info = await this.sendOnce(message);
		} catch (error) {
			const renewToken = this.renewToken;
			if (!renewToken || !isRejectedToken(error)) throw fromSmtpError(error, this.server, this.login);
			this.renewal ??= this.renew(renewToken);
			await this.renewal;
			info = await this.sendOnce(message);
		}
		return {
			messageId: message.messageId,
			accepted: (info.accepted ?? []).map(addressOf),
			rejected: (info.rejected ?? []).map(addressOf),
			response: String(info.response ?? ''),
			server: `${this.server.host}:${this.server.port}`,
			security: this.server.security,
			envelope: message.envelope,
			sha256: message.sha256,
			size: message.raw.length,
		};
	}

	close(): void {
		for (const transporter of [...this.retired, this.transporter]) transporter.close();
	}
}
