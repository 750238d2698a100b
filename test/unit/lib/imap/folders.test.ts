import { MailboxError } from '../../../../lib/errors';
import { folderPathLevels, locateFolder, serverPathOf, type FolderInfo, type Hierarchy } from '../../../../lib/imap/folders';

const slash: Hierarchy = { delimiter: '/', prefix: '' };
const dotted: Hierarchy = { delimiter: '.', prefix: '' };
/** Courier and old Cyrus: every folder lives under "INBOX.". */
const courier: Hierarchy = { delimiter: '.', prefix: 'INBOX.' };

function errorOf(fn: () => unknown): MailboxError {
	try {
		fn();
	} catch (error) {
		expect(error).toBeInstanceOf(MailboxError);
		return error as MailboxError;
	}
	throw new Error('expected an error');
}

describe('folder paths typed by the user', () => {
	it('are split at the chosen separator and joined with the server\'s delimiter', () => {
		expect(serverPathOf(folderPathLevels('Projects/2026/Q1', '/', slash), slash)).toBe('Projects/2026/Q1');
		expect(serverPathOf(folderPathLevels('Projects/2026/Q1', '/', dotted), dotted)).toBe('Projects.2026.Q1');
		expect(serverPathOf(folderPathLevels('Projects.2026.Q1', '.', slash), slash)).toBe('Projects/2026/Q1');
		expect(serverPathOf(folderPathLevels('Müller & Söhne/Aufträge', '/', dotted), dotted)).toBe('Müller & Söhne.Aufträge');
	});

	it('go into the personal namespace where the server has a prefix, INBOX stays INBOX', () => {
		expect(serverPathOf(['Projects', '2026'], courier)).toBe('INBOX.Projects.2026');
		expect(serverPathOf(['INBOX', 'Projects'], courier)).toBe('INBOX.Projects');
		expect(serverPathOf(['inbox'], courier)).toBe('INBOX');
		expect(serverPathOf(['inbox'], slash)).toBe('INBOX');
	});

	it.each([
		['', 'is empty'],
		['  ', 'is empty'],
		['/A', 'has an empty level'],
		['A/', 'has an empty level'],
		['A//B', 'has an empty level'],
		['A/ B', 'starts or ends with a space'],
		['A /B', 'starts or ends with a space'],
		['A/B\t', 'control character'],
		['A/B%', 'wildcards'],
	])('refuses %j naming the field', (text, words) => {
		const error = errorOf(() => folderPathLevels(text, '/', slash, { field: 'newPath', label: 'New Path' }));
		expect(error).toMatchObject({ code: 'CONFIG', field: 'newPath' });
		expect(error.message).toMatch(/^New Path/);
		expect(error.message).toContain(words);
		expect(error.hint).toBeTruthy();
	});

	it('refuses the server\'s delimiter inside a name when the user separates levels otherwise', () => {
		const error = errorOf(() => folderPathLevels('Reports/v1.2', '/', dotted));
		expect(error).toMatchObject({ code: 'CONFIG', field: 'folderPath' });
		expect(error.message).toBe('Folder Path "Reports/v1.2": the name "v1.2" contains ".", which this server uses between folder levels, so it would become a subfolder.');
		expect(error.hint).toMatch(/Path Separator to "\."/);
		// the same separator as the server: the "." separates levels
		expect(folderPathLevels('Reports.v1.2', '.', dotted)).toEqual(['Reports', 'v1', '2']);
	});

	it('of existing folders are also found as the server lists them', () => {
		const folders: FolderInfo[] = [
			{ path: 'INBOX', name: 'INBOX', parentPath: '', delimiter: '.', subscribed: true, selectable: true, specialUse: 'inbox' },
			{ path: 'INBOX.Projects', name: 'Projects', parentPath: 'INBOX', delimiter: '.', subscribed: true, selectable: false },
			{ path: 'INBOX.Projects.v1.2', name: '2', parentPath: 'INBOX.Projects.v1', delimiter: '.', subscribed: true, selectable: true },
		];
		expect(locateFolder(folders, 'INBOX.Projects.v1.2', courier).path).toBe('INBOX.Projects.v1.2');
		expect(locateFolder(folders, 'inbox', courier).path).toBe('INBOX');
		expect(errorOf(() => locateFolder(folders, 'Projects', courier, { at: { field: 'junkFolder', label: 'Junk Folder' } })).message).toBe('Junk Folder: "INBOX.Projects" only holds other folders and cannot contain messages.');
		expect(errorOf(() => locateFolder(folders, 'Archive/2026', courier))).toMatchObject({ code: 'NOT_FOUND', field: 'folderPath', message: 'Folder Path: the folder "INBOX.Archive.2026" does not exist.' });
	});
});
