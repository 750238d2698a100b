/**
 * Addresses found in free text (a header whose quotes or brackets are unbalanced), in one linear
 * pass: each `@` is widened to the left over the characters an address's local part may hold and
 * to the right over the domain's labels. A regular expression with a repeated local part tried
 * every start position again and took seconds on a long header of a sender's choosing.
 */
const LOCAL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]/;
const ALNUM = /[A-Za-z0-9]/;

/** The end of the domain that starts at `from` (labels of letters, digits and inner hyphens, joined by dots); `from` when there is none. */
function domainEnd(text: string, from: number): number {
	let end = from;
	let i = from;
	while (i < text.length && ALNUM.test(text[i])) {
		// one label: alphanumerics and hyphens, ending in an alphanumeric
		let last = i;
		while (i < text.length && (ALNUM.test(text[i]) || text[i] === '-')) {
			if (text[i] !== '-') last = i;
			i++;
		}
		end = last + 1;
		if (i !== end || text[i] !== '.' || !ALNUM.test(text[i + 1] ?? '')) break;
		i++;
	}
	return end;
}

/** Each address in `text`, with where it starts, in order. */
export function findEmails(text: string): Array<{ index: number; address: string }> {
	const out: Array<{ index: number; address: string }> = [];
	let floor = 0;
	for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
		let start = at;
		while (start > floor && LOCAL.test(text[start - 1])) start--;
		if (start === at) continue;
		const end = domainEnd(text, at + 1);
		if (end === at + 1) continue;
		out.push({ index: start, address: text.slice(start, end) });
		floor = end;
		at = end - 1;
	}
	return out;
}
