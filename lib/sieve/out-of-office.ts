/**
 * Setting, reading and clearing the out-of-office auto-reply on a ManageSieve session.
 *
 * ManageSieve allows one active script per account, and that script is often the user's own
 * filters (webmail rules, a sorting script). This module never overwrites or loses it:
 * - Set writes our own script {@link OUT_OF_OFFICE_SCRIPT} (recognised by its marker comment) and
 *   makes it active. When another script was active, ours includes it after the auto-reply
 *   (Sieve "include", RFC 6609), so those filters keep running, and it remembers its name there.
 *   A server without "include" gets no auto-reply rather than silently dropped filters: Set
 *   refuses with a clear message. A previous script with an auto-reply (vacation) of its own is
 *   refused too: two vacation actions in one run are an error and the user's reply would compete.
 * - Set again replaces our script and keeps the script it includes.
 * - Clear makes the included script active again (when it still exists; otherwise no script is
 *   active, as before Set) and deletes ours.
 * - A script of our name without our marker is someone else's: it is neither read nor replaced.
 */
import { MailboxError } from '../errors';
import { SieveCommandError, type ManageSieveClient, type SieveScriptEntry } from './managesieve';
import { buildVacationScript, checkVacationSettings, isOwnScript, parseVacationScript, requiredBy, type VacationScript, type VacationSettings } from './vacation';

/** The name of the script this package writes. */
export const OUT_OF_OFFICE_SCRIPT = 'n8n-out-of-office';

/**
 * - `off`: no auto-reply of ours is active
 * - `scheduled`: active, the period has not begun
 * - `on`: active and replying now
 * - `ended`: active, but the period is over (no replies)
 */
export type OutOfOfficeStatus = 'off' | 'scheduled' | 'on' | 'ended';

export interface OutOfOfficeState {
	/** Our script is the active one (replies now or within its period). */
	enabled: boolean;
	status: OutOfOfficeStatus;
	scriptName: string;
	/** Our script exists on the server (active or not). */
	scriptExists: boolean;
	/** The settings read from our script; undefined when there is none. */
	settings?: VacationScript;
	/** The active script's name (ours or another), null when none is active. */
	activeScript: string | null;
	/** The active script is someone else's and has an auto-reply (vacation) of its own. */
	otherAutoReplyActive: boolean;
}

function statusAt(active: boolean, settings: VacationSettings | undefined, now: Date): OutOfOfficeStatus {
	if (!active || !settings) return 'off';
	if (settings.start && now.getTime() < settings.start.getTime()) return 'scheduled';
	if (settings.end && now.getTime() >= settings.end.getTime()) return 'ended';
	return 'on';
}

async function readState(client: ManageSieveClient, scripts: SieveScriptEntry[], scriptName: string, now: Date): Promise<{ state: OutOfOfficeState; foreignScript: boolean }> {
	const ours = scripts.find((s) => s.name === scriptName);
	const active = scripts.find((s) => s.active);
	let settings: VacationScript | undefined;
	let foreignScript = false;
	if (ours) {
		const text = await client.getScript(scriptName);
		settings = parseVacationScript(text);
		foreignScript = !isOwnScript(text);
	}
	let otherAutoReplyActive = false;
	if (active && active.name !== scriptName) otherAutoReplyActive = requiredBy(await client.getScript(active.name)).includes('vacation');
	const enabled = !!ours?.active && !!settings;
	return {
		state: { enabled, status: statusAt(enabled, settings, now), scriptName, scriptExists: !!ours && !foreignScript, settings, activeScript: active?.name ?? null, otherAutoReplyActive },
		foreignScript,
	};
}

function foreignScriptError(scriptName: string): MailboxError {
	return new MailboxError('SERVER', `The Sieve script "${scriptName}" on the server was not written by the Mailbox node, so it is left alone.`, {
		step: 'command',
		reason: 'FOREIGN_SCRIPT',
		hint: `Rename or delete that script (e.g. in the webmail's filter settings), then run this operation again.`,
	});
}

/** A script the server's Sieve compiler refused, with its words; other failures unchanged. */
function scriptRefused(error: unknown, host: string): unknown {
	if (!(error instanceof SieveCommandError) || error.status.status !== 'NO' || error.status.code?.name.startsWith('QUOTA')) return error;
	return new MailboxError('SERVER', `${host} refused the out-of-office Sieve script: ${error.status.text.trim() || 'no reason given'}`, {
		step: 'command',
		serverCode: error.status.code?.name ?? `NO ${error.command}`,
		command: error.command,
		cause: error,
		serverResponse: error.status.text,
		hint: "Check Subject, Text, From and Own Addresses; the server's words above name the problem.",
	});
}

/** The auto-reply as it is on the server. */
export async function getOutOfOffice(client: ManageSieveClient, options: { scriptName?: string; now?: Date } = {}): Promise<OutOfOfficeState> {
	const scriptName = options.scriptName ?? OUT_OF_OFFICE_SCRIPT;
	return (await readState(client, await client.listScripts(), scriptName, options.now ?? new Date())).state;
}

export interface SetOutOfOfficeResult extends OutOfOfficeState {
	/** The script run after the auto-reply (the one active before), if any. */
	includedScript: string | null;
	/** Warnings of the server's Sieve compiler, if any. */
	warnings?: string;
}

/** Writes and activates the auto-reply; see the module comment for what happens to the active script. */
export async function setOutOfOffice(client: ManageSieveClient, input: VacationSettings, options: { scriptName?: string; now?: Date } = {}): Promise<SetOutOfOfficeResult> {
	const scriptName = options.scriptName ?? OUT_OF_OFFICE_SCRIPT;
	const settings = checkVacationSettings(input);
	const extensions = client.capabilities.sieve;
	if (extensions.length && !extensions.includes('vacation')) {
		throw new MailboxError('SERVER', `${client.server.host} supports Sieve but not its "vacation" extension, so it cannot send auto-replies.`, {
			step: 'command',
			reason: 'NO_VACATION',
			hint: 'Ask the mail provider to enable the Sieve vacation extension, or set the auto-reply in its webmail.',
		});
	}
	const scripts = await client.listScripts();
	const { state, foreignScript } = await readState(client, scripts, scriptName, options.now ?? new Date());
	if (foreignScript) throw foreignScriptError(scriptName);

	// The script to keep running: the one active now, or the one our active script already includes.
	let include: string | undefined;
	if (state.activeScript && state.activeScript !== scriptName) include = state.activeScript;
	else if (state.activeScript === scriptName) include = state.settings?.includeScript;
	if (include && !scripts.some((s) => s.name === include)) include = undefined;
	if (include) {
		if (extensions.length && !extensions.includes('include')) {
			throw new MailboxError('SERVER', `The Sieve script "${include}" is active, and ${client.server.host} cannot run the auto-reply next to it (its Sieve has no "include" extension).`, {
				step: 'command',
				reason: 'NO_INCLUDE',
				hint: `Only one Sieve script can be active. Add the auto-reply to "${include}" by hand (e.g. in the webmail), or deactivate it first if its filters are not needed.`,
			});
		}
		if (requiredBy(await client.getScript(include)).includes('vacation')) {
			throw new MailboxError('SERVER', `The active Sieve script "${include}" has an auto-reply (vacation) of its own; a second one next to it would fail.`, {
				step: 'command',
				reason: 'OTHER_VACATION',
				hint: `Turn off the other auto-reply first (e.g. in the webmail's out-of-office settings, which wrote "${include}"), then run Set again.`,
			});
		}
	}

	const script = buildVacationScript({ ...settings, includeScript: include }, extensions.length ? extensions : undefined);
	let warnings: string | undefined;
	try {
		// CHECKSCRIPT (RFC 5804 servers) before anything changes; PUTSCRIPT checks again.
		if (client.capabilities.version) warnings = (await client.checkScript(script)).warnings;
		const put = await client.putScript(scriptName, script);
		warnings = put.warnings ?? warnings;
	} catch (error) {
		throw scriptRefused(error, client.server.host);
	}
	if (!scripts.find((s) => s.name === scriptName)?.active) await client.setActive(scriptName);
	const after = await getOutOfOffice(client, { scriptName, now: options.now });
	return { ...after, includedScript: include ?? null, ...(warnings ? { warnings } : {}) };
}

export interface ClearOutOfOfficeResult extends OutOfOfficeState {
	/** Our script existed and was removed. */
	cleared: boolean;
	/** The script made active again, if any. */
	restoredScript: string | null;
}

/** Turns the auto-reply off: the script active before becomes active again, ours is deleted. */
export async function clearOutOfOffice(client: ManageSieveClient, options: { scriptName?: string; now?: Date } = {}): Promise<ClearOutOfOfficeResult> {
	const scriptName = options.scriptName ?? OUT_OF_OFFICE_SCRIPT;
	const scripts = await client.listScripts();
	const { state, foreignScript } = await readState(client, scripts, scriptName, options.now ?? new Date());
	if (foreignScript) throw foreignScriptError(scriptName);
	const ours = scripts.find((s) => s.name === scriptName);
	let restoredScript: string | null = null;
	if (ours) {
		if (ours.active) {
			const previous = state.settings?.includeScript;
			if (previous && scripts.some((s) => s.name === previous)) {
				await client.setActive(previous);
				restoredScript = previous;
			} else await client.setActive('');
		}
		await client.deleteScript(scriptName);
	}
	const after = await getOutOfOffice(client, { scriptName, now: options.now });
	return { ...after, cleared: !!ours, restoredScript };
}
