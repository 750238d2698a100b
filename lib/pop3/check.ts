/**
 * The POP3 connection check behind the credential Test button and the Check Connection
 * operation: resolve the host, (proxy,) connect, TLS, capabilities, log in with the chosen
 * method, then STAT, the same path the POP3 trigger takes. Reports each step that was reached;
 * a failed step names the cause and the fix. Never throws, never shows a secret, deletes nothing.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { failureResult, tlsDetail, type CheckStep, type ConnectionCheckResult } from '../connection/check-steps';
import { checkLogin, resolveServer, secretsOf, type Login, type ResolvedServer, type ServerSettings } from '../connection/options';
import { toConnectionError } from '../connection/socket';
import { silentLogger, type Logger } from '../logger';
import { connectPop3, type Pop3LoginMethod, type Pop3Session } from './connect';

export interface Pop3CheckOptions {
	/** The credential's Login Method; default `password`. */
	apop?: Pop3LoginMethod;
}

export async function checkPop3Connection(settings: ServerSettings, login: Partial<Login>, options: Pop3CheckOptions = {}, logger: Logger = silentLogger): Promise<ConnectionCheckResult> {
	const steps: CheckStep[] = [];
	const secrets = [...secretsOf(login), settings.proxy?.password];
	let session: Pop3Session | undefined;
	try {
		const server: ResolvedServer = resolveServer('pop3', settings);
		const checked = checkLogin(login);
		// Through a proxy the proxy resolves the name; looking it up here could fail for no reason.
		if (!isIP(server.host) && !server.proxy) {
			const { address } = await lookup(server.host).catch((error: unknown) => {
				throw toConnectionError(error, server, secrets, 'dns');
			});
			steps.push({ step: 'resolve', ok: true, detail: `${server.host} is ${address}` });
		}
		session = await connectPop3(server, checked, {
			loginMethod: options.apop,
			logger,
			progress: (stage, detail) => steps.push({ step: stage, ok: true, detail }),
		});
		const tls = steps.find((s) => s.step === 'tls');
		if (tls && tls.detail === 'encrypted') tls.detail = `encrypted with ${tlsDetail(session.client.tlsSocket)}${session.stls ? ' (after STLS)' : ''}`;
		const stat = await session.client.stat();
		steps.push({ step: 'inbox', ok: true, detail: `maildrop has ${stat.count} message${stat.count === 1 ? '' : 's'}, ${stat.size} bytes` });
		await session.client.quit().catch(() => undefined);
		session = undefined;
		// The message reads "Connected to ...; through the proxy ...", the steps keep their order.
		const proxyAt = steps.findIndex((s) => s.step === 'proxy');
		const ordered = proxyAt >= 0 ? [...steps.slice(0, proxyAt), steps[proxyAt + 1], steps[proxyAt], ...steps.slice(proxyAt + 2)] : steps;
		return { ok: true, message: `${ordered.map((s) => s.detail).join('; ')}.`, steps };
	} catch (error) {
		return failureResult(error, steps, secrets);
	} finally {
		session?.client.close();
	}
}
