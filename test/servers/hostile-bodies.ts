/**
 * Message bodies of a given size for lib/message/body.ts: real reply shapes grown to the size
 * (long threads, a long newsletter) and hostile ones (a line of ">", attribution floods, deep
 * nesting, unclosed tags, white-space floods). The unit tests check what comes out of each,
 * `BENCH_ONLY=message-body npm run bench` times them at 1 and 2 MiB.
 */

export const BODY_KINDS = [
	// real shapes, grown
	'outlookThread',
	'gmailThread',
	'plainThread',
	'newsletter',
	// hostile
	'quoteLine',
	'attributionFlood',
	'headerFlood',
	'nestedBlockquotes',
	'nestedInline',
	'unclosedTags',
	'nbspFlood',
	'preWhitespace',
	'breakFlood',
	'wideTable',
] as const;
export type BodyKind = (typeof BODY_KINDS)[number];

export interface BodySample {
	text?: string;
	html?: string;
}

/** `head`, then `unit` repeated, then `tail`: exactly `bytes` characters (spaces fill what is left before the tail). */
function sized(head: string, unit: string, tail: string, bytes: number): string {
	const room = Math.max(0, bytes - head.length - tail.length);
	const times = Math.floor(room / unit.length);
	return head + unit.repeat(times) + ' '.repeat(room - times * unit.length) + tail;
}

const OUTLOOK_REPLY = '<div class="WordSection1"><p class="MsoNormal">Hallo Frau Schmidt,<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">die Lieferung kommt am Freitag.<o:p></o:p></p>';
const OUTLOOK_QUOTE =
	'<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>Von:</b> Anna Schmidt &lt;anna@example.de&gt;<br><b>Gesendet:</b> Montag, 3. November 2025 10:15<br><b>An:</b> Thomas Becker<br><b>Betreff:</b> AW: Lieferung<o:p></o:p></p></div><p class="MsoNormal">Wann kommt die Lieferung? Wir brauchen die Teile bis Ende der Woche.<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p>';
const GMAIL_QUOTE = (inner: string) =>
	`<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Nov 3, 2025 at 4:05 PM Priya &lt;<a href="mailto:priya@example.com">priya@example.com</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex"><div dir="ltr">Please see the <a href="https://example.com/doc">document</a>.</div>${inner}</blockquote></div>`;
const NEWSLETTER_ITEM =
	'<tr><td style="padding:0 20px"><h2>Weekly tip</h2><p>Read the <a href="https://news.example.com/articles/tip?utm_source=newsletter">full guide</a> on our website.</p><ul><li>Plant bulbs</li><li>Cut back perennials</li></ul></td></tr>';

/** A body of the kind, `bytes` characters long (HTML or text). */
export function bodySample(kind: BodyKind, bytes: number): BodySample {
	switch (kind) {
		case 'outlookThread':
			// a reply above a thread of quoted Outlook replies
			return { html: sized(`<html><body>${OUTLOOK_REPLY}`, OUTLOOK_QUOTE, '</div></body></html>', bytes) };
		case 'gmailThread': {
			// Gmail nests each earlier message one blockquote deeper: as deep as the size allows
			const close = '</blockquote></div>';
			const open = GMAIL_QUOTE('').slice(0, -close.length);
			const head = '<div dir="ltr">Sounds good, thanks.</div><br>';
			const levels = Math.floor((bytes - head.length) / (open.length + close.length));
			return { html: sized(`${head}${open.repeat(levels)}`, ' ', close.repeat(levels), bytes) };
		}
		case 'plainThread':
			return { text: sized('Sounds good.\n\nOn Tue, Nov 4, 2025 at 11:32 AM Emily <emily@example.com> wrote:\n', '> The fix is merged. Can you deploy it to staging today?\n>\n', '', bytes) };
		case 'newsletter':
			return { html: sized('<table role="presentation" width="100%">', NEWSLETTER_ITEM, '</table>', bytes) };
		case 'quoteLine':
			return { text: sized('Hello\n', '>', '', bytes) };
		case 'attributionFlood':
			return { text: sized('Reply\n', 'On Mon, Nov 3, 2025 at 4:05 PM Anna <anna@example.com> wrote:\n', '', bytes) };
		case 'headerFlood':
			return { text: sized('', 'From: a@example.com\nSent: Monday\nTo: b@example.com\nSubject: x\n', '', bytes) };
		case 'nestedBlockquotes':
			return { html: sized('', '<blockquote>', 'deep text', bytes) };
		case 'nestedInline':
			return { html: sized('start ', '<b><i><span><a href="x">', 'deep text', bytes) };
		case 'unclosedTags':
			return { html: sized('start ', '<a href="x<div <script <p', '', bytes) };
		case 'nbspFlood':
			return { html: sized('<p>start', '&nbsp;', ' end</p>', bytes) };
		case 'preWhitespace':
			return { html: sized('<pre>start', ' \n\t', 'end</pre>', bytes) };
		case 'breakFlood':
			return { html: sized('start', '<br><p></p><b></b>', 'end', bytes) };
		case 'wideTable':
			return { html: sized('<table><tr><th>a</th><th>b</th></tr>', '<tr><td>1</td><td>2</td></tr>', '</table>', bytes) };
	}
}

/** The size of a sample, in characters. */
export const sampleSize = (sample: BodySample) => (sample.text?.length ?? 0) + (sample.html?.length ?? 0);
