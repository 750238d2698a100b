/**
 * Plain text from HTML, by html-to-text (the converter mailparser uses): a real HTML parser, linear
 * in the input, where hand-written patterns backtracked on hostile mail (an unclosed `<script`
 * repeated blocked the event loop for seconds). Blocks end with one line break, links keep their
 * text only, images and head/script/style are left out, lines are not wrapped.
 */
import { convert, type HtmlToTextOptions, type SelectorDefinition } from 'html-to-text';

const block = (selector: string): SelectorDefinition => ({ selector, format: 'block', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } });

const OPTIONS: HtmlToTextOptions = {
	wordwrap: false,
	// deeper nesting than any real mail is not walked (html-to-text recurses per level)
	limits: { maxDepth: 200 },
	selectors: [
		...['p', 'div', 'blockquote', 'table', 'tr', 'ul', 'ol', 'li', 'pre', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map(block),
		{ selector: 'a', options: { ignoreHref: true } },
		{ selector: 'img', format: 'skip' },
		{ selector: 'td', format: 'inline' },
		{ selector: 'th', format: 'inline' },
	],
};

export function htmlToText(html: string): string {
	return convert(html, OPTIONS)
		.replace(/\u00a0/g, ' ')
		.split('\n')
		.map((line) => line.trimEnd())
		.join('\n')
		.replace(/\n{3,}/g, '\n\n')
		.trim();
}
