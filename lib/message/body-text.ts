/**
 * The line-based part of {@link messageBody}: finds the reply chain, forward headers and the
 * signature in plain text (and in the Markdown made from HTML) and keeps the message's own text.
 *
 * Linear in the text: every line is classified once, by anchored patterns on at most its first
 * {@link PROBE} characters, with no two unbounded quantifiers that could trade characters; an
 * attribution spread over up to three lines is tried only where a line starts with its first word.
 */
import { FORWARD_SENTINEL, type Removal } from './body-html';

/** Characters of a line that the patterns look at. */
const PROBE = 400;
/** Lines after a closing that may still be a signature; the signature may be this many lines long. */
const MAX_SIGNATURE_LINES = 20;

type Marker = 'e' | 'm' | 't' | 'header' | 'attribution' | 'forward' | 'sentinel';

/** The line as the patterns see it: trimmed, at most {@link PROBE} characters, Markdown links as their text, emphasis and escapes off. */
function probe(line: string): string {
	return line
		.slice(0, PROBE)
		// no bracket or parenthesis inside either part: each character is looked at a bounded number of times
		.replace(/\[([^[\]\n]{0,200})\]\([^()[\]\s]{0,300}\)/g, '$1')
		.replace(/[*\\]/g, '')
		.replace(/(^|\s)_+|_+(\s|$)/g, '$1$2')
		.trim();
}

const ORIGINAL_MESSAGE = /^-{2,}\s*(Original Message|Ursprüngliche Nachricht|Originalnachricht|Original-Nachricht|Message d'origine|Message original|Mensaje original|Messaggio originale|Oorspronkelijk bericht|Origineel bericht|Mensagem original|Oprindelig meddelelse|Opprinnelig melding|Ursprungligt meddelande|Alkuperäinen viesti)\s*-{2,}$/i;
const FORWARD_LINE = /^-{2,}\s*(Forwarded message|Forwarded Message|Weitergeleitete Nachricht|Message transféré|Mensaje reenviado|Messaggio inoltrato|Doorgestuurd bericht|Mensagem encaminhada|Videresendt meddelelse|Vidarebefordrat meddelande)\s*-{2,}$/i;
const FORWARD_BEGIN = /^(Begin forwarded message|Anfang der weitergeleiteten Nachricht|Début du message réexpédié|Début du message transféré|Inicio del mensaje reenviado|Inizio messaggio inoltrato|Begin doorgestuurd bericht)\s?:?$/i;
/** The first line of a header block: "From:" in the languages mail clients write it in. */
const HEADER_FROM = /^(From|Von|De|Da|Van|Från|Fra|Od|Lähettäjä)\s?:\s*\S/i;
/** Any line of a header block. */
const HEADER_ANY = /^(From|Von|De|Da|Van|Från|Fra|Od|Sent|Gesendet|Date|Datum|Envoyé|Enviado|Fecha|Inviato|Data|Verzonden|Verstuurd|Skickat|Sendt|To|An|À|A|Para|Aan|Til|Till|Cc|Kopie|Subject|Betreff|Objet|Asunto|Oggetto|Onderwerp|Assunto|Emne|Ämne|Reply-To|Antwort an)\s?:/i;
const SEPARATOR = /^_{10,}$/;

/** An attribution's first word, and the verb it ends with (verb-final languages) or contains (German, Dutch). */
const ATTRIBUTION_START = /^(On|Am|Le|El|Il|Op|Em|W dniu|Den)\s/i;
const ATTRIBUTION_END = /(wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|napisał|skrev)\s?:?$/i;
const VERB_INSIDE = /\s(schrieb|schreef|skrev)\s/i;
/** "Name <address> wrote:" without a date. */
const NAME_ADDRESS_WROTE = /<[^<>\s@]{1,200}@[^<>\s@]{1,200}>\)?\s?(wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu)\s?:$/i;
const QUOTING = /^(Zitat von|Quoting)\s.{1,200}:$/i;

function isAttribution(text: string): boolean {
	if (text.length > PROBE) return false;
	if (QUOTING.test(text)) return true;
	if (NAME_ADDRESS_WROTE.test(text)) return true;
	if (!ATTRIBUTION_START.test(text) || !/\d/.test(text)) return false;
	return ATTRIBUTION_END.test(text) || (text.endsWith(':') && VERB_INSIDE.test(text));
}

/** Mobile signatures, each a line of its own. */
const MOBILE = /^(Sent from my \S.{0,40}|Sent from (Outlook|Mail|Yahoo Mail|Gmail|Proton Mail|Samsung)\b.{0,60}|Sent with Proton Mail.{0,40}|Get Outlook for (iOS|Android)|Von meinem \S.{0,40} gesendet|Gesendet von meinem \S.{0,40}|Gesendet von (Mail|Outlook) für .{1,40}|Outlook für (iOS|Android) beziehen|Envoyé de mon \S.{0,40}|Envoyé depuis .{1,40}|Enviado desde mi \S.{0,40}|Inviato da(l mio)? \S.{0,40}|Verzonden (vanaf|met) (mijn )?\S.{0,40}|Enviado do meu \S.{0,40})\s*(<https?:\/\/[^>\s]{1,300}>)?$/i;

/** Closing phrases, matched at the start of a line (the name may follow on the same line). */
const CLOSING = new RegExp(
	'^(?:' +
		[
			// German
			'(?:mit\\s+)?(?:freundlichen|besten|herzlichen|lieben|vielen|sonnigen|schönen|kollegialen)\\s+grü(?:ß|ss)en',
			'(?:beste|liebe|viele|herzliche|freundliche|schöne|sonnige)\\s+grü(?:ß|ss)e',
			'(?:mit\\s+)?freundliche[mn]?\\s+gru(?:ß|ss)',
			'mfg|lg|vg|bg|gru(?:ß|ss)|grü(?:ß|ss)e|ciao|tschüss|bis\\s+bald',
			'danke(?:\\s+(?:schön|sehr|dir|euch|ihnen))?(?:\\s+und\\s+(?:viele|beste|liebe)\\s+grü(?:ß|ss)e)?',
			// English
			'(?:best|kind|warm|warmest|kindest|many|with\\s+kind|with\\s+best)\\s+regards',
			'regards|best\\s+wishes|all\\s+the\\s+best|best|cheers|thx|sincerely',
			'thanks(?:\\s+(?:again|so\\s+much|a\\s+lot|in\\s+advance))?|thank\\s+you(?:\\s+(?:again|so\\s+much|in\\s+advance))?|many\\s+thanks',
			'yours(?:\\s+(?:sincerely|truly|faithfully))?',
			// French, Spanish, Italian, Dutch, Portuguese
			'(?:bien\\s+)?cordialement|bien\\s+à\\s+vous|(?:meilleures\\s+)?salutations|bonne\\s+journée',
			'(?:un\\s+)?(?:cordial\\s+)?saludos?(?:\\s+cordiales)?|atentamente',
			'(?:cordiali|distinti)\\s+saluti|saluti|un\\s+saluto',
			'(?:met\\s+)?(?:vriendelijke|hartelijke)\\s+groet(?:en)?|groet(?:en|jes)?',
			'atenciosamente|abraços?',
		].join('|') +
		')',
	'iu',
);
/** After a closing on its line: punctuation, then at most a name of up to four capitalised words. */
const AFTER_CLOSING = /^[,.!…]*(?:\s+\p{Lu}[\p{L}'’.-]*(?:\s+\p{Lu}[\p{L}'’.-]*){0,3})?$/u;
/** A line that is only a name: one to three capitalised words (or initials). */
const NAME = /^\p{Lu}[\p{L}'’.-]{0,30}(?:\s+\p{Lu}[\p{L}'’.-]{0,30}){0,2}$/u;
/** Short answers, which look like a name but are not a signature. */
const ANSWERS = new Set(['yes', 'no', 'ok', 'okay', 'sure', 'done', 'agreed', 'approved', 'confirmed', 'fine', 'great', 'perfect', 'correct', 'right', 'exactly', 'noted', 'thanks', 'ja', 'nein', 'gerne', 'genau', 'danke', 'prima', 'super', 'perfekt', 'erledigt', 'oui', 'non', 'sí', 'si', 'nee', 'klopt', 'prego']);
const DISCLAIMER = /confidential|vertraulich|disclaimer|intended|recipient|empfänger|amtsgericht|registergericht|handelsregister|\bhrb\b|geschäftsführ|registered|company number|\bvat\b|ust-id|sitz der gesellschaft|privileged|datenschutz|privacy/i;

function isClosing(line: string): boolean {
	const p = probe(line);
	const m = CLOSING.exec(p);
	return m !== null && AFTER_CLOSING.test(p.slice(m[0].length));
}

function isName(line: string): boolean {
	const p = probe(line);
	// "J." is an initial, "Done." a sentence
	if (p.length > 40 || !NAME.test(p) || (/[.!?]$/.test(p) && !/(^|\s)\p{Lu}\.$/u.test(p))) return false;
	return !ANSWERS.has(p.split(/\s/)[0].toLowerCase());
}

/** A line that can stand in a signature block: short, not a postscript, not prose. */
function isSignatureLine(line: string): boolean {
	if (line.length > 2000) return false;
	const plain = line
		.replace(/\[([^[\]\n]{0,300})\]\([^()[\]\s]{0,2000}\)/g, '$1')
		.replace(/[*_]/g, '')
		.trim();
	if (!plain) return true;
	if (/^p\.?\s?s\.?(\s|:|$)/i.test(plain)) return false;
	if (DISCLAIMER.test(plain)) return plain.length <= 1000;
	if (plain.length > 100) return false;
	const words = plain.split(/\s+/);
	const prose = /[.!?]$/.test(plain) && words.length >= 6 && words.filter((w) => /^\p{Ll}/u.test(w)).length >= 3;
	return !prose && !plain.endsWith('?');
}

const isDelimiter = (line: string) => /^(--|—|\\--) ?$/.test(line);

function classify(lines: string[], quotedLines: boolean): Marker[] {
	const markers: Marker[] = new Array<Marker>(lines.length);
	for (let i = 0; i < lines.length; i++) {
		const raw = lines[i];
		if (raw === FORWARD_SENTINEL) {
			markers[i] = 'sentinel';
			continue;
		}
		const trimmed = raw.slice(0, PROBE).trim();
		if (!trimmed) markers[i] = 'e';
		else if (quotedLines && trimmed.startsWith('>')) markers[i] = 'm';
		else {
			const p = probe(raw);
			if (FORWARD_LINE.test(p) || FORWARD_BEGIN.test(p)) markers[i] = 'forward';
			else if (ORIGINAL_MESSAGE.test(p) || (SEPARATOR.test(trimmed) && headerFollows(lines, i + 1, 1)) || (HEADER_FROM.test(p) && headerFollows(lines, i + 1, 2))) markers[i] = 'header';
			else if (isAttribution(p)) markers[i] = 'attribution';
			else if (ATTRIBUTION_START.test(p) && !p.endsWith(':')) {
				// an attribution wrapped over two or three lines (Gmail's plain text wraps at 76)
				let joined = p;
				markers[i] = 't';
				for (let j = i + 1; j < Math.min(lines.length, i + 3) && joined.length <= PROBE; j++) {
					const next = probe(lines[j]);
					if (!next) break;
					joined = `${joined} ${next}`;
					if (isAttribution(joined)) {
						for (let k = i; k <= j; k++) markers[k] = 'attribution';
						i = j;
						break;
					}
				}
			} else markers[i] = 't';
		}
	}
	return markers;
}

/** True when at least `count` header lines ("To:", "Subject:", …) follow within the next eight lines. */
function headerFollows(lines: string[], from: number, count: number): boolean {
	let found = 0;
	for (let j = from; j < Math.min(lines.length, from + 8); j++) if (HEADER_ANY.test(probe(lines[j])) && ++found >= count) return true;
	return false;
}

function trimBlank(lines: string[]): string[] {
	let start = 0;
	let end = lines.length;
	while (start < end && !lines[start].trim()) start++;
	while (end > start && !lines[end - 1].trim()) end--;
	return lines.slice(start, end);
}

/** Removes the signature from the end of the message's own lines. */
function stripSignature(input: string[], removed: Set<Removal>): string[] {
	let lines = trimBlank(input);
	const hasTextBefore = (index: number) => lines.slice(0, index).some((l) => l.trim());
	// mobile lines ("Sent from my iPhone") at the end
	while (lines.length && MOBILE.test(probe(lines[lines.length - 1])) && hasTextBefore(lines.length - 1)) {
		lines = trimBlank(lines.slice(0, -1));
		removed.add('signature');
	}
	// the "-- " delimiter
	for (let i = lines.length - 1; i > 0 && i >= lines.length - MAX_SIGNATURE_LINES - 1; i--) {
		if (isDelimiter(lines[i]) && hasTextBefore(i)) {
			lines = trimBlank(lines.slice(0, i));
			removed.add('signature');
			break;
		}
	}
	// a closing followed only by lines that look like a signature; or a name alone as the last paragraph
	let nonEmpty = 0;
	for (let i = lines.length - 1; i > 0 && nonEmpty <= MAX_SIGNATURE_LINES; i--) {
		if (!lines[i].trim()) continue;
		if (isClosing(lines[i]) && hasTextBefore(i)) {
			lines = trimBlank(lines.slice(0, i));
			removed.add('signature');
			return lines;
		}
		if (!isSignatureLine(lines[i])) break;
		nonEmpty++;
	}
	// a name alone after a paragraph that ended a sentence ("…once the deploy is done.\n\nRavi")
	const last = lines.length - 1;
	if (last >= 2 && !lines[last - 1].trim() && isName(lines[last]) && /[.!?)]$/.test(lines[last - 2].trimEnd())) {
		lines = trimBlank(lines.slice(0, last));
		removed.add('signature');
	}
	return lines;
}

/** A run of own lines after a quote that is only a sign-off ("Jordan", "Thanks, Jordan"). */
function isSignOff(lines: string[]): boolean {
	const text = trimBlank(lines);
	if (!text.length || text.length > 2) return false;
	if (isDelimiter(text[0])) return true;
	return text.every((l) => isName(l) || isClosing(l) || MOBILE.test(probe(l)));
}

export interface TextOptions {
	/** Lines starting with ">" are quotes (plain text); off for Markdown made from HTML, where they are the mail's own blockquotes. */
	quotedLines: boolean;
	/** Take the signature off (the fallback leaves it). */
	signatures: boolean;
}

/**
 * The message's own text from plain text or Markdown: the reply chain cut, forward headers
 * removed (the forwarded text stays), the signature taken off.
 */
export function stripText(text: string, options: TextOptions): { text: string; removed: Set<Removal> } {
	const lines = text.split('\n');
	const markers = classify(lines, options.quotedLines);
	const removed = new Set<Removal>();
	const parts: string[][] = [];
	const own = (part: string[]) => {
		const kept = options.signatures ? stripSignature(part, removed) : trimBlank(part);
		if (kept.length) parts.push(kept);
	};
	let start = 0;
	while (start < lines.length) {
		let k = start;
		while (k < lines.length && (markers[k] === 't' || markers[k] === 'e')) k++;
		if (k >= lines.length) {
			own(lines.slice(start));
			break;
		}
		const marker = markers[k];
		// a header block with no text before it heads a forwarded message (Outlook forwards with no note)
		const leadingHeader = marker === 'header' && !parts.length && lines.slice(start, k).every((l) => !l.trim());
		if (marker === 'forward' || marker === 'sentinel' || leadingHeader) {
			own(lines.slice(start, k));
			let j = k + 1;
			if (marker !== 'sentinel') {
				removed.add('forward-header');
				if (HEADER_ANY.test(probe(lines[k]))) j = k;
				while (j < lines.length && markers[j] === 'e') j++;
				let header = false;
				while (j < lines.length && (HEADER_ANY.test(probe(lines[j])) || (header && /^\s+\S/.test(lines[j].slice(0, PROBE))))) {
					header = true;
					j++;
				}
			}
			start = j;
			continue;
		}
		// the reply chain starts at k
		let end = k;
		if (marker === 'm' || (marker === 'attribution' && nextNonEmpty(markers, k) === 'm')) end = inlineEnd(lines, markers, k, removed);
		for (let j = end; j < lines.length; j++) {
			if (markers[j] !== 'e' && markers[j] !== 't') {
				removed.add('quote');
				break;
			}
		}
		own(lines.slice(start, end));
		break;
	}
	return { text: parts.map((p) => p.join('\n')).join('\n\n'), removed };
}

function nextNonEmpty(markers: Marker[], from: number): Marker | undefined {
	let j = from;
	while (j < markers.length && (markers[j] === 'attribution' || markers[j] === 'e')) j++;
	return markers[j];
}

/**
 * Where the own text ends when the quote starting at `k` is marked with ">": past the last answer
 * written between quoted lines (inline replies keep the questions they answer), else at `k`.
 */
function inlineEnd(lines: string[], markers: Marker[], k: number, removed: Set<Removal>): number {
	let lastOwnEnd = k;
	let j = k;
	while (j < lines.length) {
		// the quoted lines
		while (j < lines.length && (markers[j] === 'm' || markers[j] === 'e' || (j === k && markers[j] === 'attribution'))) j++;
		if (j >= lines.length) break;
		// an unquoted run up to the next quoted line
		const runStart = j;
		while (j < lines.length && markers[j] !== 'm') {
			if (markers[j] === 'header' || markers[j] === 'attribution' || markers[j] === 'forward' || markers[j] === 'sentinel') return lastOwnEnd;
			j++;
		}
		const run = lines.slice(runStart, j);
		if (run.some(isDelimiter) || (j >= lines.length && isSignOff(run))) {
			removed.add('signature');
			break;
		}
		let end = j;
		while (end > runStart && markers[end - 1] === 'e') end--;
		lastOwnEnd = end;
	}
	return lastOwnEnd;
}
