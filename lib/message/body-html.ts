/**
 * HTML → Markdown for {@link messageBody}, with the reply chain and signature blocks that mail
 * clients mark in their HTML taken out first.
 *
 * The HTML is read once by htmlparser2's tokenizer (linear in the input) into a small tree that
 * keeps only what the Markdown needs: elements deeper than {@link MAX_DEPTH} lose their
 * tags (their text stays), head/script/style/images and hidden elements are left out, runs of
 * white space are bounded, elements without text are dropped. On that tree the quoted blocks of
 * Gmail, Outlook, Apple Mail, iOS, Thunderbird and Yahoo are found by their markup and removed,
 * then it is written back as plain HTML (tags and `href` only, and only as much text as the
 * caller's cap needs) for turndown. turndown alone
 * overflows the stack on 2,700 nested blockquotes and is quadratic on long runs of white space in
 * `<pre>` and of `&nbsp;`, on `<br>` floods and empty-paragraph floods: the tree removes all of
 * these before turndown sees the HTML.
 */
import { Tokenizer } from 'htmlparser2';
import TurndownService from 'turndown';

/** Marks where a forwarded message's header block was, for the text pass: its own line. */
export const FORWARD_SENTINEL = '\uE000forwarded\uE000';

/** Elements nested deeper than this lose their tags; their text is kept. */
const MAX_DEPTH = 40;
/** Lists and quotes nested deeper than this become plain blocks (turndown indents per level). */
const MAX_LIST_DEPTH = 8;

interface Element {
	tag: string;
	attrs: Record<string, string>;
	children: Node[];
	parent: Element | null;
	/** Taken out by the detection of quotes and signatures (undone for the whole-message fallback). */
	removed?: boolean;
	/** Never shown: head, script, style, images, hidden elements. */
	hidden?: boolean;
	/** A forwarded message's header block: written as {@link FORWARD_SENTINEL} (as itself for the whole-message fallback). */
	forwardHeader?: boolean;
	/** The tag as written, where a list nested too deep became a div. */
	from?: string;
	/** Set by {@link markText}: the subtree has text other than white space. */
	hasText?: boolean;
}
type Node = Element | string;

/** Left out with everything inside. */
const SKIP = new Set(['head', 'script', 'style', 'title', 'template', 'noscript', 'svg', 'math', 'object', 'embed', 'iframe', 'frame', 'frameset', 'canvas', 'audio', 'video', 'img', 'picture', 'source', 'map', 'area', 'input', 'select', 'textarea', 'button', 'meta', 'link', 'base', 'xml']);
/** Written out for turndown; any other tag is dropped with its text kept. */
const BLOCK = ['p', 'div', 'blockquote', 'pre', 'ul', 'ol', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'thead', 'tbody', 'tfoot', 'tr', 'td', 'th', 'hr', 'dl', 'dt', 'dd', 'section', 'article', 'header', 'footer', 'main', 'nav', 'aside', 'address', 'center', 'figure', 'figcaption', 'caption'];
const INLINE = ['a', 'b', 'strong', 'i', 'em', 'code', 'kbd', 'samp', 'tt', 'br', 'sub', 'sup'];
const BLOCK_SET = new Set(BLOCK);
const KEEP = new Set([...BLOCK, ...INLINE]);
const VOID = new Set(['br', 'hr', 'wbr', 'col', 'img', 'input', 'meta', 'link', 'base', 'area', 'embed', 'source', 'track', 'param', 'keygen']);
const LIST_LIKE = new Set(['ul', 'ol', 'blockquote', 'dl']);

/** Attributes read by the detection below; values longer than this are cut (a style of 1 MB is no style). */
const ATTRS = new Set(['class', 'id', 'type', 'style', 'href', 'start', 'data-smartmail']);
const MAX_ATTR = 2000;
const NO_ATTRS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Characters turndown's white-space handling backtracks on (any `\s` but ASCII white space), zero-width and soft hyphens. */
const ODD_SPACE = /[\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\f\v]/g;
const INVISIBLE = /\u00ad|\u034f|[\u200b-\u200d]|\u2060|\ufeff/g;

/** Block elements that end an open paragraph (as browsers do; Outlook leaves `<p>` open). */
const CLOSES_P = new Set(['p', 'div', 'ul', 'ol', 'dl', 'table', 'blockquote', 'pre', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'section', 'article', 'header', 'footer', 'main', 'nav', 'aside', 'address', 'center', 'figure', 'form', 'fieldset']);
/** An open tag that ends an open one of these, up to one of the stoppers. */
const IMPLIED = new Map<string, { closes: string[]; stop: string[] }>([
	['li', { closes: ['li'], stop: ['ul', 'ol', 'menu'] }],
	['dt', { closes: ['dt', 'dd'], stop: ['dl'] }],
	['dd', { closes: ['dt', 'dd'], stop: ['dl'] }],
	['tr', { closes: ['tr', 'td', 'th'], stop: ['table', 'thead', 'tbody', 'tfoot'] }],
	['td', { closes: ['td', 'th'], stop: ['tr', 'table'] }],
	['th', { closes: ['td', 'th'], stop: ['tr', 'table'] }],
	['thead', { closes: ['thead', 'tbody', 'tfoot', 'tr', 'td', 'th'], stop: ['table'] }],
	['tbody', { closes: ['thead', 'tbody', 'tfoot', 'tr', 'td', 'th'], stop: ['table'] }],
	['tfoot', { closes: ['thead', 'tbody', 'tfoot', 'tr', 'td', 'th'], stop: ['table'] }],
	['body', { closes: ['head'], stop: [] }],
]);

/**
 * Reads the HTML into the bounded tree, on htmlparser2's tokenizer with a tree builder of its
 * own: htmlparser2's Parser keeps its open elements in an array it shifts and searches at the
 * front, quadratic in the nesting depth (9 s for 200,000 nested `<div>`). Here at most
 * {@link MAX_DEPTH} elements are open; tags opened deeper are counted, not kept, and the next as
 * many closing tags close them.
 */
function parse(html: string): Element {
	const root: Element = { tag: 'root', attrs: {}, children: [], parent: null };
	const open: Element[] = [];
	let current = root;
	let overflow = 0;
	let listDepth = 0;
	/** The tag being read: its name, and its kept attributes (one shared empty object for the many tags without). */
	let pendingName: string | null = null;
	let pendingAttrs: Record<string, string> = NO_ATTRS;
	let attribName = '';
	let attribValue = '';
	let keepAttrib = false;

	const pop = () => {
		const el = open.pop() as Element;
		if (LIST_LIKE.has(el.tag)) listDepth--;
		current = open[open.length - 1] ?? root;
		// an empty element is dropped at once (floods of <p></p> cost no memory), unless its id or class marks something
		if (!el.children.length && !el.attrs.id && !el.attrs.class && current.children[current.children.length - 1] === el) current.children.pop();
	};
	const isBreak = (n: Node | undefined) => typeof n !== 'string' && n?.tag === 'br';
	/** Two line breaks in a row are kept, not more (the writer keeps two; a flood costs no memory). */
	const breakFlood = () => {
		const c = current.children;
		let i = c.length - 1;
		if (typeof c[i] === 'string' && !/\S/.test(c[i] as string)) i--;
		return isBreak(c[i]) && isBreak(c[i - 1]);
	};
	/** Closes the innermost open element named one of `names`, and all inside it; none when a stopper comes first. */
	const closeNearest = (names: string[], stop: string[]) => {
		for (let i = open.length - 1; i >= 0; i--) {
			if (names.includes(open[i].tag)) {
				while (open.length > i) pop();
				return;
			}
			if (stop.includes(open[i].tag)) return;
		}
	};
	const addText = (text: string) => {
		if (!text) return;
		const last = current.children[current.children.length - 1];
		if (typeof last === 'string') current.children[current.children.length - 1] = last + text;
		else current.children.push(text);
	};
	const openTag = (name: string, attrs: Record<string, string>) => {
		if (current.tag === 'p' && CLOSES_P.has(name)) pop();
		const implied = IMPLIED.get(name);
		if (implied) closeNearest(implied.closes, implied.stop);
		const tag = (LIST_LIKE.has(name) || name === 'li') && listDepth >= MAX_LIST_DEPTH ? 'div' : name;
		const hidden = SKIP.has(name) || /display\s*:\s*none/i.test(attrs.style ?? '');
		const isVoid = VOID.has(name);
		if (name === 'br' && breakFlood()) return;
		if (open.length >= MAX_DEPTH && !isVoid) {
			overflow++;
			return;
		}
		const el: Element = { tag, attrs, children: [], parent: current, hidden: hidden || undefined, from: tag === name ? undefined : name };
		current.children.push(el);
		if (isVoid) return;
		open.push(el);
		current = el;
		if (LIST_LIKE.has(tag)) listDepth++;
	};
	const closeTag = (name: string) => {
		if (VOID.has(name)) {
			if (name === 'br') openTag('br', {}); // </br> is a line break, as in browsers
			return;
		}
		if (overflow > 0) {
			overflow--;
			return;
		}
		for (let i = open.length - 1; i >= 0; i--) {
			if (open[i].tag === name || open[i].from === name) {
				while (open.length > i) pop();
				return;
			}
		}
		// a closing tag with nothing open to close is left out
	};

	const slice = (start: number, end: number) => html.slice(start, end);
	const tokenizer = new Tokenizer(
		{ xmlMode: false, decodeEntities: true },
		{
			ontext: (start, end) => addText(slice(start, end).replace(/\uE000/g, '')),
			ontextentity: (cp) => addText(cp === 0xe000 ? '' : String.fromCodePoint(cp)),
			onopentagname: (start, end) => {
				pendingName = slice(start, end).toLowerCase();
				pendingAttrs = NO_ATTRS;
			},
			onattribname: (start, end) => {
				attribName = slice(start, end).toLowerCase();
				attribValue = '';
				keepAttrib = ATTRS.has(attribName);
			},
			onattribdata: (start, end) => {
				if (keepAttrib && attribValue.length < MAX_ATTR) attribValue += slice(start, Math.min(end, start + MAX_ATTR));
			},
			onattribentity: (cp) => {
				if (keepAttrib && attribValue.length < MAX_ATTR) attribValue += String.fromCodePoint(cp);
			},
			onattribend: () => {
				if (pendingName !== null && keepAttrib && !Object.hasOwn(pendingAttrs, attribName)) {
					if (pendingAttrs === NO_ATTRS) pendingAttrs = {};
					pendingAttrs[attribName] = attribValue.slice(0, MAX_ATTR);
				}
				keepAttrib = false;
			},
			onopentagend: () => {
				if (pendingName !== null) openTag(pendingName, pendingAttrs);
				pendingName = null;
			},
			onselfclosingtag: () => {
				// HTML: <div/> opens a div, as in browsers
				if (pendingName !== null) openTag(pendingName, pendingAttrs);
				pendingName = null;
			},
			onclosetag: (start, end) => closeTag(slice(start, end).toLowerCase()),
			oncdata: () => undefined,
			oncomment: () => undefined,
			ondeclaration: () => undefined,
			onprocessinginstruction: () => undefined,
			onend: () => undefined,
		},
	);
	tokenizer.write(html);
	tokenizer.end();
	return root;
}

// --- walking the tree without recursion ------------------------------------------------------

function* walk(root: Element): Generator<Element> {
	const stack: Element[] = [root];
	while (stack.length) {
		const el = stack.pop() as Element;
		if (el.removed || el.hidden) continue;
		yield el;
		for (let i = el.children.length - 1; i >= 0; i--) {
			const child = el.children[i];
			if (typeof child !== 'string') stack.push(child);
		}
	}
}

/** The element's text, at most `max` characters, white space collapsed. */
function textOf(el: Element, max = 400): string {
	let out = '';
	const stack: Node[] = [el];
	while (stack.length && out.length < max) {
		const node = stack.pop() as Node;
		if (typeof node === 'string') {
			out += node.slice(0, max - out.length);
			continue;
		}
		if (node.removed || node.hidden) continue;
		if (node.tag === 'br' || node.tag === 'p' || node.tag === 'div') out += '\n';
		for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
	}
	return out.slice(0, max).replace(/[ \t\u00a0]+/g, ' ');
}

/** Marks every element whose subtree has text (bottom-up, without recursion); `whole` counts the removed parts too. */
function markText(root: Element, whole: boolean): void {
	const shown = (el: Element) => !el.hidden && (whole || !el.removed);
	const order: Element[] = [];
	const stack: Element[] = [root];
	while (stack.length) {
		const el = stack.pop() as Element;
		if (!shown(el)) continue;
		order.push(el);
		for (const child of el.children) if (typeof child !== 'string') stack.push(child);
	}
	for (let i = order.length - 1; i >= 0; i--) {
		const el = order[i];
		// a line break is content inside a line (Hello<span><br></span>World), not as all a block has
		const block = BLOCK_SET.has(el.tag) || el === root;
		el.hasText = el.tag === 'br' || el.tag === 'hr' || el.children.some((c) => (typeof c === 'string' ? /\S/.test(c) : shown(c) && (c.tag !== 'br' || !block) && c.hasText === true));
	}
}

/** Removes `el` and everything after it in document order; returns what puts the text back. */
function cutFrom(el: Element): () => void {
	const cleared: Array<{ siblings: Node[]; index: number; text: string }> = [];
	el.removed = true;
	let node: Element = el;
	while (node.parent) {
		const siblings = node.parent.children;
		for (let i = siblings.indexOf(node) + 1; i < siblings.length; i++) {
			const s = siblings[i];
			if (typeof s === 'string') {
				cleared.push({ siblings, index: i, text: s });
				siblings[i] = '';
			} else s.removed = true;
		}
		node = node.parent;
	}
	return () => {
		for (const c of cleared) c.siblings[c.index] = c.text;
	};
}

/** Marks a forward's header block, written as the line that marks where it was. */
function toSentinel(el: Element): void {
	el.forwardHeader = true;
}

const hasClass = (el: Element, name: string) => el.attrs.class !== undefined && el.attrs.class.includes(name) && el.attrs.class.split(/\s+/).includes(name);
const idIs = (el: Element, name: string) => {
	const id = el.attrs.id ?? '';
	return id === name || id.endsWith(`_${name}`);
};

/** "From:" and its translations as the first word of Outlook's header block. */
const HEADER_START = /^\s*(From|Von|De|Da|Van|Från|Fra|Od|Lähettäjä|Feladó)\s?:/i;
const FORWARD_MARKER = /(Forwarded message|Forwarded Message|Weitergeleitete Nachricht|Message transféré|Mensaje reenviado|Messaggio inoltrato|Doorgestuurd bericht|Mensagem encaminhada)/i;

export type Removal = 'quote' | 'signature' | 'forward-header';

/**
 * Finds the quoted blocks, signatures and forward headers that clients mark in their HTML and
 * marks them removed; returns what was removed, and what undoes the cut for the fallback.
 */
function stripMarked(root: Element): { removed: Set<Removal>; restore: () => void } {
	const removed = new Set<Removal>();
	let restore = () => undefined as void;
	/** Whether the message has text before the element at hand: a reply header with none before it heads a forwarded message. */
	let seenText = false;
	const stack: Node[] = [root];
	while (stack.length) {
		const el = stack.pop() as Node;
		if (typeof el === 'string') {
			if (!seenText && /\S/.test(el)) seenText = true;
			continue;
		}
		if (el.removed || el.hidden || el.forwardHeader) continue;
		const { tag } = el;
		const descend = () => {
			for (let i = el.children.length - 1; i >= 0; i--) stack.push(el.children[i]);
		};
		// signatures: Gmail, Outlook on the web, Thunderbird, Proton Mail
		if (
			hasClass(el, 'gmail_signature') ||
			hasClass(el, 'gmail_signature_prefix') ||
			el.attrs['data-smartmail'] === 'gmail_signature' ||
			idIs(el, 'Signature') ||
			idIs(el, 'signature') ||
			hasClass(el, 'moz-signature') ||
			hasClass(el, 'protonmail_signature_block')
		) {
			el.removed = true;
			removed.add('signature');
			continue;
		}
		// Gmail: the quote, or a forwarded message whose header is in gmail_attr
		if (hasClass(el, 'gmail_quote') && tag !== 'blockquote') {
			const attr = el.children.find((c): c is Element => typeof c !== 'string' && hasClass(c, 'gmail_attr'));
			if (attr && FORWARD_MARKER.test(textOf(attr, 200))) {
				toSentinel(attr);
				removed.add('forward-header');
				descend();
				continue;
			}
			el.removed = true;
			removed.add('quote');
			continue;
		}
		// Thunderbird: the forward's header table
		if (hasClass(el, 'moz-email-headers-table')) {
			toSentinel(el);
			removed.add('forward-header');
			continue;
		}
		// Apple Mail, iOS, Thunderbird, Gmail's inner blockquote; Thunderbird's attribution; Yahoo, Proton Mail
		if (
			(tag === 'blockquote' && (el.attrs.type ?? '').toLowerCase() === 'cite') ||
			hasClass(el, 'gmail_quote') ||
			hasClass(el, 'moz-cite-prefix') ||
			hasClass(el, 'yahoo_quoted') ||
			hasClass(el, 'gmail_attr') ||
			hasClass(el, 'protonmail_quote')
		) {
			el.removed = true;
			removed.add('quote');
			continue;
		}
		// Outlook: everything from the reply header on (on the web: div#divRplyFwdMsg, after div#appendonsend
		// and an <hr>; the new Outlook: div#mail-editor-reference-message-container; desktop and Mac: a
		// block with a top border whose text starts with "From:")
		const container = idIs(el, 'mail-editor-reference-message-container');
		const header =
			container ||
			idIs(el, 'divRplyFwdMsg') ||
			hasClass(el, 'OutlookMessageHeader') ||
			(tag === 'div' && /border-top\s*:\s*solid/i.test(el.attrs.style ?? '') && HEADER_START.test(textOf(el, 100)));
		if (header || idIs(el, 'appendonsend')) {
			if (!seenText) {
				// nothing before it: the header of a forwarded message, whose text follows (the new
				// Outlook's container holds both: its header is found as text)
				if (container) descend();
				else if (header) {
					toSentinel(el);
					removed.add('forward-header');
				}
				continue;
			}
			let start = el;
			const siblings = el.parent?.children ?? [];
			const prev = siblings.slice(0, siblings.indexOf(el)).reverse().find((c) => typeof c !== 'string' || /\S/.test(c));
			if (prev && typeof prev !== 'string' && prev.tag === 'hr') start = prev;
			restore = cutFrom(start);
			removed.add('quote');
			break;
		}
		descend();
	}
	return { removed, restore };
}

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (s: string) => escapeText(s).replace(/"/g, '&quot;');

/**
 * Bounds runs of white space: turndown's trimming backtracks over long runs in `<pre>`, and runs
 * of any length mean nothing in mail.
 */
function tidyText(text: string): string {
	return text.replace(INVISIBLE, '').replace(ODD_SPACE, ' ').replace(/[ \t]{32,}/g, ' '.repeat(32)).replace(/(?:[ \t]*\n){3,}/g, '\n\n');
}

/** What a written element counts against the budget, in characters of text. */
const ELEMENT_COST = 8;

/**
 * Writes the tree back as HTML: kept tags, `href` and `start` only; no element without text; at
 * most two `<br>` in a row. Past `budget` characters of text nothing more is written (turndown's
 * DOM costs some hundred bytes a node); the text left out is counted.
 */
function serialize(root: Element, whole: boolean, budget: number): { html: string; unconverted: number } {
	const out: string[] = [];
	const grids = new Set<Element>();
	const headed = new Set<Element>();
	let breaks = 0;
	let chars = 0;
	let unconverted = 0;
	type Frame = { el: Element; i: number; written: boolean };
	const stack: Frame[] = [{ el: root, i: 0, written: false }];
	while (stack.length) {
		const frame = stack[stack.length - 1];
		if (frame.i >= frame.el.children.length) {
			stack.pop();
			if (frame.written && !VOID.has(frame.el.tag)) out.push(`</${frame.el.tag}>`);
			continue;
		}
		const child = frame.el.children[frame.i++];
		const over = chars > budget;
		if (typeof child === 'string') {
			if (!child) continue;
			const text = tidyText(child);
			if (over) {
				unconverted += text.length;
				continue;
			}
			if (/\S/.test(text)) breaks = 0;
			out.push(escapeText(text));
			chars += text.length;
			continue;
		}
		if (child.hidden || (child.removed && !whole)) continue;
		if (over) {
			stack.push({ el: child, i: 0, written: false });
			continue;
		}
		if (!child.hasText) {
			// an empty block goes; an inline element of white space still parts two words
			const last = out[out.length - 1] ?? ' ';
			if (!BLOCK_SET.has(child.tag) && child.children.length && !/\s/.test(last.charAt(last.length - 1))) out.push(' ');
			continue;
		}
		if (child.forwardHeader && !whole) {
			out.push(`<p>${FORWARD_SENTINEL}</p>`);
			continue;
		}
		if (child.tag === 'br') {
			if (++breaks <= 2) out.push('<br>');
			continue;
		}
		let written = false;
		if (KEEP.has(child.tag)) {
			breaks = 0;
			let attrs = '';
			if (child.tag === 'a' && child.attrs.href) attrs = ` href="${escapeAttr(child.attrs.href)}"`;
			if (child.tag === 'ol' && /^\d{1,6}$/.test(child.attrs.start ?? '')) attrs = ` start="${child.attrs.start}"`;
			if (child.tag === 'table' && isDataTable(child)) {
				attrs = ' data-grid="1"';
				grids.add(child);
			}
			if (child.tag === 'tr') {
				const table = tableOf(child);
				if (table && grids.has(table) && !headed.has(table)) {
					headed.add(table);
					attrs = ' data-head="1"';
				}
			}
			out.push(`<${child.tag}${attrs}>`);
			// an element's share of the Markdown and of turndown's work: its marker, a link's address
			chars += ELEMENT_COST + attrs.length;
			if (VOID.has(child.tag)) continue;
			written = true;
		}
		stack.push({ el: child, i: 0, written });
	}
	return { html: out.join(''), unconverted };
}

function tableOf(el: Element): Element | null {
	let n = el.parent;
	while (n && n.tag !== 'table') n = n.parent;
	return n;
}

/** A table of data (a header cell, no nested table or list, 2 to 20 columns), not layout: written as a Markdown table. */
function isDataTable(table: Element): boolean {
	let header = false;
	let columns = 0;
	for (const el of walk(table)) {
		if (el === table) continue;
		if (el.tag === 'table' || el.tag === 'ul' || el.tag === 'ol' || el.tag === 'blockquote' || el.tag === 'pre') return false;
		if (el.tag === 'th') header = true;
		if (el.tag === 'tr') columns = Math.max(columns, el.children.filter((c) => typeof c !== 'string' && (c.tag === 'td' || c.tag === 'th')).length);
	}
	return header && columns > 1 && columns <= 20;
}

// --- turndown --------------------------------------------------------------------------------

/** turndown's DOM node (its own DOM implementation), as far as the rules below read it. */
interface DomNode {
	nodeName: string;
	parentNode: DomNode | null;
	children: ArrayLike<DomNode>;
	childNodes: ArrayLike<DomNode>;
	nextSibling: DomNode | null;
	textContent: string | null;
	getAttribute(name: string): string | null;
}

function gridOf(node: DomNode): DomNode | null {
	let n: DomNode | null = node.parentNode;
	while (n && n.nodeName !== 'TABLE') n = n.parentNode;
	return n && n.getAttribute('data-grid') ? n : null;
}

function createConverter(): TurndownService {
	const td = new TurndownService({ headingStyle: 'atx', bulletListMarker: '-', codeBlockStyle: 'fenced', emDelimiter: '*', strongDelimiter: '**', hr: '---' });
	// Mail text is not Markdown source: escaping every `_`, `*` and `[` only adds noise for a reader.
	td.escape = (s: string) => s;
	td.addRule('listItem', {
		filter: 'li',
		replacement(content, n) {
			const node = n as unknown as DomNode;
			const parent = node.parentNode;
			let prefix = '- ';
			if (parent?.nodeName === 'OL') {
				const start = Number(parent.getAttribute('start') ?? 1);
				prefix = `${start + Array.prototype.indexOf.call(parent.children, node)}. `;
			}
			const body = content.replace(/^\n+/, '').replace(/\n+$/, '').replace(/\n/g, `\n${' '.repeat(prefix.length)}`);
			return `${prefix}${body}${node.nextSibling ? '\n' : ''}`;
		},
	});
	td.addRule('link', {
		filter: 'a',
		replacement(content, n) {
			const node = n as unknown as DomNode;
			const href = (node.getAttribute('href') ?? '').trim();
			const text = content.trim();
			if (!text) return '';
			if (!href || /^(javascript|data|cid):/i.test(href) || href.startsWith('#')) return content;
			const bare = href.replace(/^(mailto|tel):/i, '');
			if (bare === text || href === text) return content;
			return `[${text}](${href.replace(/[\s()<>]/g, (c) => encodeURIComponent(c))})`;
		},
	});
	td.addRule('gridCell', {
		filter: (n) => {
			const node = n as unknown as DomNode;
			return (node.nodeName === 'TD' || node.nodeName === 'TH') && gridOf(node) !== null;
		},
		replacement: (content) => ` ${content.replace(/\s*\n\s*/g, ' ').trim().replace(/\|/g, '\\|')} |`,
	});
	td.addRule('gridRow', {
		filter: (n) => {
			const node = n as unknown as DomNode;
			return node.nodeName === 'TR' && gridOf(node) !== null;
		},
		replacement(content, n) {
			const node = n as unknown as DomNode;
			const first = Boolean(node.getAttribute('data-head'));
			const cells = Array.prototype.filter.call(node.childNodes, (c: DomNode) => c.nodeName === 'TD' || c.nodeName === 'TH').length;
			return `\n|${content}${first ? `\n|${' --- |'.repeat(cells)}` : ''}`;
		},
	});
	td.addRule('gridSection', {
		filter: (n) => {
			const node = n as unknown as DomNode;
			return (node.nodeName === 'THEAD' || node.nodeName === 'TBODY' || node.nodeName === 'TFOOT') && gridOf(node) !== null;
		},
		replacement: (content) => content,
	});
	td.addRule('gridTable', {
		filter: (n) => {
			const node = n as unknown as DomNode;
			return node.nodeName === 'TABLE' && Boolean(node.getAttribute('data-grid'));
		},
		replacement: (content) => `\n\n${content.replace(/^\n+|\n+$/g, '')}\n\n`,
	});
	return td;
}

let converter: TurndownService | undefined;

export interface Converted {
	markdown: string;
	/** Characters of text past the budget, not converted. */
	unconverted: number;
}

export interface HtmlResult extends Converted {
	/** The blocks removed by their markup. */
	removed: Set<Removal>;
	/** The whole HTML converted, nothing removed (the fallback when nothing is left). */
	whole: () => Converted;
}

/**
 * Markdown from the HTML, quoted blocks and signatures removed. `budget`: characters of text
 * converted at most (the caller needs no more); the text past it is only counted.
 */
export function htmlToMarkdown(html: string, budget = Infinity): HtmlResult {
	converter ??= createConverter();
	const td = converter;
	const root = parse(html);
	const { removed, restore } = stripMarked(root);
	const convert = (whole: boolean): Converted => {
		const { html: clean, unconverted } = serialize(root, whole, budget);
		return { markdown: clean ? tidyMarkdown(td.turndown(clean)) : '', unconverted };
	};
	markText(root, false);
	const result = convert(false);
	return {
		...result,
		removed,
		whole: () => {
			if (!removed.size) return result;
			restore();
			markText(root, true);
			return convert(true);
		},
	};
}

/** Trailing spaces off, at most one empty line in a row. */
function tidyMarkdown(md: string): string {
	return md
		.split('\n')
		.map((line) => line.trimEnd())
		.join('\n')
		.replace(/\n{3,}/g, '\n\n')
		.trim();
}
