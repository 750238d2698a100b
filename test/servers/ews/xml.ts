/** A small namespace-aware XML parser and the XML writing helpers of the local EWS endpoint. */

export interface XmlElement {
	/** Qualified name as written, e.g. 't:ItemId'. */
	name: string;
	local: string;
	/** Namespace URI ('' when none). */
	ns: string;
	/** Attributes by local name (namespace declarations left out). */
	attrs: Record<string, string>;
	children: XmlElement[];
	/** The element's own text (concatenated, entities decoded). */
	text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
	return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref: string) => {
		if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
		if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
		const named = ENTITIES[ref];
		if (named === undefined) throw new Error(`unknown entity ${whole}`);
		return named;
	});
}

/** Parses an XML document into elements with resolved namespaces; throws on malformed input. */
export function parseXml(xml: string): XmlElement {
	let pos = 0;
	const stack: Array<{ el: XmlElement; scope: Map<string, string> }> = [];
	let root: XmlElement | undefined;
	const fail = (what: string): never => {
		throw new Error(`${what} at offset ${pos}`);
	};
	if (xml.charCodeAt(0) === 0xfeff) pos = 1;
	while (pos < xml.length) {
		const lt = xml.indexOf('<', pos);
		const textEnd = lt === -1 ? xml.length : lt;
		if (textEnd > pos) {
			const text = xml.slice(pos, textEnd);
			const top = stack[stack.length - 1];
			if (top) top.el.text += decodeEntities(text);
			else if (text.trim()) fail('text outside the root element');
		}
		if (lt === -1) break;
		pos = lt;
		if (xml.startsWith('<?', pos)) {
			const end = xml.indexOf('?>', pos);
			if (end === -1) fail('unterminated processing instruction');
			pos = end + 2;
		} else if (xml.startsWith('<!--', pos)) {
			const end = xml.indexOf('-->', pos);
			if (end === -1) fail('unterminated comment');
			pos = end + 3;
		} else if (xml.startsWith('<![CDATA[', pos)) {
			const end = xml.indexOf(']]>', pos);
			if (end === -1) fail('unterminated CDATA section');
			const top = stack[stack.length - 1];
			if (!top) fail('CDATA outside the root element');
			top.el.text += xml.slice(pos + 9, end);
			pos = end + 3;
		} else if (xml.startsWith('<!', pos)) {
			fail('DOCTYPE is not allowed');
		} else if (xml.startsWith('</', pos)) {
			const end = xml.indexOf('>', pos);
			if (end === -1) fail('unterminated end tag');
			const name = xml.slice(pos + 2, end).trim();
			const top = stack.pop();
			if (!top || top.el.name !== name) fail(`unexpected end tag </${name}>`);
			pos = end + 1;
		} else {
			const match = /^<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)/.exec(xml.slice(pos, pos + 200));
			if (!match) fail('malformed start tag');
			const name = match![1];
			pos += match![0].length;
			const raw: Array<[string, string]> = [];
			for (;;) {
				const ws = /^\s*/.exec(xml.slice(pos, pos + 100))![0].length;
				pos += ws;
				if (xml.startsWith('/>', pos) || xml.startsWith('>', pos)) break;
				const attr = /^([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)\s*=\s*("([^"]*)"|'([^']*)')/.exec(xml.slice(pos, pos + 100_000));
				if (!attr || ws === 0) fail('malformed attribute');
				raw.push([attr![1], decodeEntities(attr![3] ?? attr![4] ?? '')]);
				pos += attr![0].length;
			}
			const selfClosing = xml.startsWith('/>', pos);
			pos += selfClosing ? 2 : 1;
			const parentScope = stack[stack.length - 1]?.scope ?? new Map<string, string>([['xml', 'http://www.w3.org/XML/1998/namespace']]);
			let scope = parentScope;
			for (const [key, value] of raw) {
				if (key === 'xmlns' || key.startsWith('xmlns:')) {
					if (scope === parentScope) scope = new Map(parentScope);
					scope.set(key === 'xmlns' ? '' : key.slice(6), value);
				}
			}
			const colon = name.indexOf(':');
			const prefix = colon === -1 ? '' : name.slice(0, colon);
			const ns = scope.get(prefix);
			if (prefix && ns === undefined) fail(`undeclared prefix ${prefix}`);
			const attrs: Record<string, string> = {};
			for (const [key, value] of raw) {
				if (key === 'xmlns' || key.startsWith('xmlns:')) continue;
				attrs[key.includes(':') ? key.slice(key.indexOf(':') + 1) : key] = value;
			}
			const el: XmlElement = { name, local: colon === -1 ? name : name.slice(colon + 1), ns: ns ?? '', attrs, children: [], text: '' };
			const parent = stack[stack.length - 1];
			if (parent) parent.el.children.push(el);
			else if (root) fail('a second root element');
			else root = el;
			if (!selfClosing) stack.push({ el, scope });
		}
	}
	if (stack.length) throw new Error(`unclosed element <${stack[stack.length - 1].el.name}>`);
	if (!root) throw new Error('no root element');
	return root;
}

export function child(el: XmlElement | undefined, local: string): XmlElement | undefined {
	return el?.children.find((c) => c.local === local);
}
export function kids(el: XmlElement | undefined, local?: string): XmlElement[] {
	return el ? el.children.filter((c) => local === undefined || c.local === local) : [];
}
export function path(el: XmlElement | undefined, ...locals: string[]): XmlElement | undefined {
	let at = el;
	for (const local of locals) at = child(at, local);
	return at;
}


export function esc(s: string): string {
	return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}
export function el(name: string, content?: string | number | boolean, attrs: Record<string, string | number | undefined> = {}): string {
	const a = Object.entries(attrs)
		.filter(([, v]) => v !== undefined)
		.map(([k, v]) => ` ${k}="${esc(String(v))}"`)
		.join('');
	if (content === undefined || content === '') return `<${name}${a} />`;
	return `<${name}${a}>${typeof content === 'string' ? content : String(content)}</${name}>`;
}
export function textEl(name: string, value: string | number | boolean): string {
	return el(name, esc(String(value)));
}
export function isoSeconds(d: Date): string {
	return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
