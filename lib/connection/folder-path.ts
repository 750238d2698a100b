/**
 * Folder paths as users type them, for the web-service clients that find folders by display name
 * level by level (EWS, Microsoft Graph): "/" separates levels, "\/" is a "/" inside a name.
 */

/** "Inbox/Projects" -> ["Inbox", "Projects"]; "\/" keeps a slash in a name; empty levels dropped. */
export function splitFolderPath(path: string): string[] {
	const out: string[] = [];
	let current = '';
	for (let i = 0; i < path.length; i++) {
		const c = path[i];
		if (c === '\\' && path[i + 1] === '/') {
			current += '/';
			i++;
		} else if (c === '/') {
			out.push(current.trim());
			current = '';
		} else {
			current += c;
		}
	}
	out.push(current.trim());
	return out.filter((s) => s.length > 0);
}
