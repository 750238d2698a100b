/**
 * The folders an IMAP watch takes on activation, and the Sent folders whose mail is outbound: from
 * one folder listing on one connection, and only when one is needed.
 */
import type { ResolvedServer } from '../../connection/options';
import { silentLogger, type Logger } from '../../logger';
import { withImap, type ImapLogin } from '../connect';
import { listFolders, sentPathsOf, watchableFolders, type FolderInfo, type SpecialUse } from '../folders';

export interface WatchFoldersChoice {
	/** Every folder but the excluded ones; otherwise `chosen`. */
	all: boolean;
	/** The chosen folders (empty: INBOX). */
	chosen?: string[];
	/** With `all`: the folders left out by path (INBOX never is). */
	excluded?: (path: string) => boolean;
	/** With `all`: the roles (SPECIAL-USE) left out whatever the folder's name. */
	notRoles?: readonly SpecialUse[];
	/** Also the paths of the folders with the \Sent role. */
	sentFolders?: boolean;
}

export interface WatchFolders {
	folders: string[];
	/** Empty unless asked for. */
	sentFolders: string[];
}

/** The folders to watch and (when asked for) the Sent folders; connects only when a listing is needed. */
export async function watchFolders(server: ResolvedServer, login: ImapLogin, choice: WatchFoldersChoice, logger: Logger = silentLogger): Promise<WatchFolders> {
	const chosen = (choice.chosen ?? []).filter(Boolean);
	const selected = chosen.length ? chosen : ['INBOX'];
	if (!choice.all && !choice.sentFolders) return { folders: selected, sentFolders: [] };
	const listed = await withImap(server, login, (client) => listFolders(client, { counts: false }), logger);
	return {
		folders: choice.all ? watchableFolders(listed, choice.excluded ?? (() => false), choice.notRoles).map((f) => f.path) : selected,
		sentFolders: choice.sentFolders ? sentPathsOf(listed) : [],
	};
}

/** The folders of the mailbox a watch may take (INBOX and those not `excluded`), with their roles: for a choice of folders. */
export async function folderChoices(server: ResolvedServer, login: ImapLogin, excluded: (path: string) => boolean, logger: Logger = silentLogger): Promise<FolderInfo[]> {
	return watchableFolders(await withImap(server, login, (client) => listFolders(client, { counts: false }), logger), excluded);
}
