/**
 * Realistic test mail, deterministic from a seed: plain text (7bit, quoted-printable, base64),
 * multipart/alternative, multipart/related with an inline image, multipart/mixed with attachments
 * up to several MB with non-ASCII file names, non-UTF-8 charsets with encoded-word headers, and one
 * deliberately malformed message. Message n of seed s is always the same bytes, and is computed
 * without generating the ones before it; 10,000 messages take a few seconds.
 */
import crypto from 'node:crypto';
import Encoding from 'encoding-japanese';
import iconv from 'iconv-lite';

export type MessageKind = 'plain' | 'alternative' | 'related' | 'attachments' | 'charset' | 'malformed';

export interface GeneratedAttachment {
	filename: string;
	contentType: string;
	size: number;
	sha256: string;
}

export interface GeneratedMessage {
	index: number;
	raw: Buffer;
	messageId: string;
	date: Date;
	flags: string[];
	kind: MessageKind;
	/** The subject as a reader sees it (decoded). */
	subject: string;
	from: string;
	/** The decoded text body, where the message has one. */
	text: string;
	attachments: GeneratedAttachment[];
	charset: string;
}

export interface GenerateOptions {
	seed?: number;
	count: number;
	/** Share of messages with attachments, in percent (default 2). */
	attachPct?: number;
	/** Largest attachment (default 5 MiB); one message in 5,000 has one of exactly this size. */
	maxAttachmentBytes?: number;
	startIndex?: number;
	domain?: string;
	to?: string;
}

/** The index of the malformed message in every generated set of more than 7 messages. */
export const MALFORMED_INDEX = 7;
const EPOCH = Date.UTC(2026, 5, 1);
const CRLF = '\r\n';

// --- deterministic randomness --------------------------------------------------------------

function mulberry32(a: number): () => number {
	return () => {
		a = (a + 0x6d2b79f5) | 0;
		let t = Math.imul(a ^ (a >>> 15), 1 | a);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

class Random {
	private readonly next: () => number;
	constructor(seed: number, index: number, salt = 0) {
		this.next = mulberry32((Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35) ^ salt) >>> 0);
	}
	float(): number {
		return this.next();
	}
	int(min: number, max: number): number {
		return min + Math.floor(this.next() * (max - min + 1));
	}
	pick<T>(list: readonly T[]): T {
		return list[Math.floor(this.next() * list.length)];
	}
	chance(p: number): boolean {
		return this.next() < p;
	}
	words(list: readonly string[], n: number): string {
		return Array.from({ length: n }, () => this.pick(list)).join(' ');
	}
}

// --- content -------------------------------------------------------------------------------

const FIRST = ['Anna', 'Jonas', 'Maria', 'Lukas', 'Sophie', 'Paul', 'Emma', 'Felix', 'Laura', 'David', 'Sarah', 'Tim', 'Julia', 'Ben'];
const LAST = ['Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Hoffmann', 'Koch', 'Smith', 'Jones', 'García'];
const COMPANIES = ['acme-gmbh.test', 'contoso.test', 'northwind.test', 'fabrikam.test', 'tailspin.test', 'example.org'];
const SUBJECTS = ['Invoice', 'Order confirmation', 'Meeting notes', 'Quarterly report', 'Delivery date', 'Question about your offer', 'Registration', 'Contract draft', 'Reminder', 'Travel plans', 'Support ticket', 'Newsletter', 'Angebot', 'Rechnung', 'Terminbestätigung', 'Lieferschein'];
const WORDS = 'the of and to in for on with as by at from this that we you please our your will be can order invoice meeting project delivery price offer customer team thanks regards schedule attached document review update week today tomorrow Monday Friday account payment contract details shipping agenda'.split(' ');
const UNICODE_WORDS = ['Grüße', 'Bestätigung', 'Übersicht', 'naïve', 'café', 'Größe', 'Straße', 'déjà', 'façade', '€', '—', '“Zitat”', 'smörgåsbord', 'Ærø', 'Łódź', 'ñandú'];

/** Real text in each charset's language; subjects and bodies are drawn from these lines. */
const CHARSET_TEXT: Record<string, { subject: string[]; body: string[] }> = {
	'iso-8859-1': { subject: ['Bestellung für Müller', 'Réunion à Genève', 'Größenänderung'], body: ['Sehr geehrte Frau Müller, anbei die Übersicht für das nächste Quartal.', 'Nous avons reçu votre commande, elle sera livrée après-demain.', 'Mit freundlichen Grüßen aus Köln'] },
	'iso-8859-2': { subject: ['Zamówienie nr 42 - Łódź', 'Příjemný den, žluťoučký kůň'], body: ['Dzień dobry, przesyłam ofertę na przyszły miesiąc.', 'Příliš žluťoučký kůň úpěl ďábelské ódy.', 'Szanowni Państwo, dziękujemy za współpracę.'] },
	'iso-8859-7': { subject: ['Παραγγελία και τιμολόγιο', 'Συνάντηση την Τρίτη'], body: ['Καλημέρα σας, σας στέλνουμε την προσφορά μας.', 'Ευχαριστούμε για τη συνεργασία.'] },
	'windows-1252': { subject: ['Offer “Premium” – 20 € off', 'Café order'], body: ['Thank you for your order – it ships on Monday.', 'Price: 199 € (incl. VAT) … see the attached terms.'] },
	'windows-1251': { subject: ['Счёт на оплату', 'Встреча в понедельник'], body: ['Добрый день! Направляем вам счёт на оплату.', 'С уважением, отдел продаж.'] },
	'koi8-r': { subject: ['Заказ подтверждён', 'Отчёт за квартал'], body: ['Здравствуйте! Ваш заказ подтверждён и будет отправлен завтра.', 'Спасибо за сотрудничество.'] },
	shift_jis: { subject: ['ご注文の確認', '会議のお知らせ'], body: ['いつもお世話になっております。ご注文ありがとうございます。', '来週の会議は月曜日の午後三時からです。'] },
	'iso-2022-jp': { subject: ['請求書の送付について', '打ち合わせの日程'], body: ['お世話になっております。請求書をお送りいたします。', 'よろしくお願いいたします。'] },
	'euc-jp': { subject: ['出荷のご案内', '見積書'], body: ['本日商品を出荷いたしました。', 'ご確認のほどよろしくお願いいたします。'] },
	gb2312: { subject: ['订单确认', '会议通知'], body: ['您好，您的订单已经确认，我们将尽快发货。', '谢谢您的合作。'] },
	big5: { subject: ['訂單確認', '會議通知'], body: ['您好，我們已收到您的訂單，將於明天出貨。', '謝謝您的支持。'] },
	'euc-kr': { subject: ['주문 확인', '회의 안내'], body: ['안녕하세요. 주문이 확인되었습니다.', '감사합니다.'] },
};
const CHARSETS = Object.keys(CHARSET_TEXT);

const ATTACHMENT_TYPES: { ext: string; type: string }[] = [
	{ ext: 'pdf', type: 'application/pdf' },
	{ ext: 'zip', type: 'application/zip' },
	{ ext: 'jpg', type: 'image/jpeg' },
	{ ext: 'png', type: 'image/png' },
	{ ext: 'xlsx', type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
	{ ext: 'csv', type: 'text/csv' },
	{ ext: 'bin', type: 'application/octet-stream' },
];
const ATTACHMENT_NAMES = ['Übersicht Q3 – Käse', 'Rechnung März', '見積書', 'Договор', 'report', 'Präsentation (final)', 'scan 2026-05-12', 'Fotos Sommerfest'];

/** A 1x1 PNG, the inline image of multipart/related messages. */
const INLINE_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z/C/HgAGgwJ/lK3Q6wAAAABJRU5ErkJggg==', 'base64');

// --- encoders ------------------------------------------------------------------------------

function encode(text: string, charset: string): Buffer {
	if (charset === 'iso-2022-jp') {
		return Buffer.from(Encoding.convert(Encoding.stringToCode(text), { to: 'JIS', from: 'UNICODE' }) as number[]);
	}
	if (charset === 'utf-8' || charset === 'us-ascii') return Buffer.from(text, 'utf8');
	return iconv.encode(text, charset);
}

function isAscii(text: string): boolean {
	return /^[\x20-\x7e\r\n\t]*$/.test(text);
}

/** RFC 2047 encoded-words (base64), split on character boundaries so each word stays short. */
function encodedWords(text: string, charset: string): string {
	if (isAscii(text)) return text;
	const chars = [...text];
	const words: string[] = [];
	for (let i = 0; i < chars.length; i += 10) {
		words.push(`=?${charset.toUpperCase()}?B?${encode(chars.slice(i, i + 10).join(''), charset).toString('base64')}?=`);
	}
	return words.join(`${CRLF} `);
}

function base64Lines(data: Buffer): string {
	const b64 = data.toString('base64');
	const lines: string[] = [];
	for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
	return lines.join(CRLF);
}

function quotedPrintable(data: Buffer): string {
	const out: string[] = [];
	let line = '';
	const push = (token: string) => {
		if (line.length + token.length > 75) {
			out.push(`${line}=`);
			line = '';
		}
		line += token;
	};
	for (let i = 0; i < data.length; i++) {
		const byte = data[i];
		if (byte === 13 && data[i + 1] === 10) {
			out.push(line.endsWith(' ') ? `${line.slice(0, -1)}=20` : line);
			line = '';
			i++;
		} else if ((byte >= 33 && byte <= 126 && byte !== 61) || byte === 32) {
			push(String.fromCharCode(byte));
		} else {
			push(`=${byte.toString(16).toUpperCase().padStart(2, '0')}`);
		}
	}
	out.push(line);
	return out.join(CRLF);
}

function crlf(text: string): string {
	return text.replace(/\r?\n/g, CRLF);
}

type TransferEncoding = '7bit' | '8bit' | 'quoted-printable' | 'base64';

function textPart(contentType: string, text: string, charset: string, encoding: TransferEncoding): string {
	const bytes = encode(crlf(text), charset);
	const body = encoding === 'base64' ? base64Lines(bytes) : encoding === 'quoted-printable' ? quotedPrintable(bytes) : bytes.toString('latin1');
	return `Content-Type: ${contentType}; charset="${charset}"${CRLF}Content-Transfer-Encoding: ${encoding}${CRLF}${CRLF}${body}${CRLF}`;
}

/** RFC 2231 parameter value (charset''percent-encoded). */
function rfc2231(value: string): string {
	return `UTF-8''${encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

function attachmentBytes(random: Random, size: number): Buffer {
	const block = Buffer.alloc(4096);
	for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((random.float() * 0x100000000) >>> 0, i);
	const data = Buffer.alloc(size);
	for (let offset = 0, n = 0; offset < size; offset += block.length, n++) {
		block.writeUInt32LE(n, 0); // every block differs, so the data does not compress to nothing
		block.copy(data, offset, 0, Math.min(block.length, size - offset));
	}
	return data;
}

// --- messages ------------------------------------------------------------------------------

function person(random: Random): { name: string; address: string } {
	const first = random.pick(FIRST);
	const last = random.pick(LAST);
	const local = `${first}.${last}`.toLowerCase().normalize('NFD').replace(/[^a-z.]/g, '');
	return { name: `${first} ${last}`, address: `${local}@${random.pick(COMPANIES)}` };
}

function address(p: { name: string; address: string }, charset = 'utf-8'): string {
	return isAscii(p.name) ? `"${p.name}" <${p.address}>` : `${encodedWords(p.name, charset)} <${p.address}>`;
}

function paragraphs(random: Random, count: number, unicode: boolean): string {
	const out: string[] = [];
	for (let p = 0; p < count; p++) {
		const sentences: string[] = [];
		for (let s = random.int(3, 8); s > 0; s--) {
			let sentence = random.words(WORDS, random.int(6, 16));
			if (unicode && random.chance(0.5)) sentence += ` ${random.pick(UNICODE_WORDS)}`;
			sentences.push(`${sentence[0].toUpperCase()}${sentence.slice(1)}.`);
		}
		out.push(sentences.join(' '));
	}
	return out.join('\n\n');
}

function chooseKind(random: Random, attachPct: number): MessageKind {
	const r = random.float() * 100;
	if (r < attachPct) return 'attachments';
	if (r < attachPct + 5.5) return 'charset';
	if (r < attachPct + 5.5 + 15) return 'alternative';
	if (r < attachPct + 5.5 + 20) return 'related';
	return 'plain';
}

function boundary(random: Random, label: string): string {
	return `----=_${label}_${random.int(100000, 999999)}_${random.int(100000, 999999)}`;
}

export function generateMessage(seed: number, index: number, opts: Omit<GenerateOptions, 'count'> = {}): GeneratedMessage {
	const domain = opts.domain ?? 'example.test';
	const to = opts.to ?? `alice@${domain}`;
	const random = new Random(seed, index);
	const date = new Date(EPOCH - 730 * 86_400_000 + index * 37 * 60_000 + random.int(0, 30 * 60_000));
	const flags: string[] = [];
	if (random.chance(0.6)) flags.push('\\Seen');
	if (random.chance(0.05)) flags.push('\\Flagged');
	if (random.chance(0.08)) flags.push('\\Answered');
	if (index === MALFORMED_INDEX) return malformed(seed, index, domain, to, date, flags);

	const exactMax = (index % 5000) === 4321;
	const kind = exactMax ? 'attachments' : chooseKind(random, opts.attachPct ?? 2);
	const sender = person(random);
	const messageId = `<gen-${seed}-${index}@${domain}>`;
	const charset = kind === 'charset' ? random.pick(CHARSETS) : 'utf-8';
	const unicode = random.chance(0.3);
	let subject = `${random.pick(SUBJECTS)} ${random.int(1000, 99999)}`;
	if (kind === 'charset') subject = random.pick(CHARSET_TEXT[charset].subject);
	else if (unicode) subject += ` – ${random.pick(UNICODE_WORDS)}`;

	const headers: string[] = [
		`Return-Path: <${sender.address}>`,
		`Received: from mx.${domain} (mx.${domain} [192.0.2.${random.int(1, 254)}]) by imap.${domain} with ESMTPS id ${random.int(100000, 999999)}; ${date.toUTCString().replace('GMT', '+0000')}`,
		`From: ${address(sender, charset === 'iso-2022-jp' ? 'utf-8' : charset)}`,
		`To: ${to}`,
		`Subject: ${encodedWords(subject, charset)}`,
		`Date: ${date.toUTCString().replace('GMT', '+0000')}`,
		`Message-ID: ${messageId}`,
		'MIME-Version: 1.0',
	];
	if (random.chance(0.15)) headers.push(`Cc: ${address(person(random))}, ${address(person(random))}`);
	if (random.chance(0.1)) headers.push(`Reply-To: ${address(person(random))}`);
	if (index > 0 && random.chance(0.12)) {
		const parent = `<gen-${seed}-${random.int(0, index - 1)}@${domain}>`;
		headers.push(`In-Reply-To: ${parent}`, `References: ${parent}`);
		subject = `Re: ${subject}`;
		headers[4] = `Subject: ${encodedWords(subject, charset)}`;
	}
	if (random.chance(0.08)) headers.push(`List-Id: Team news <news.${domain}>`, `List-Unsubscribe: <mailto:unsubscribe@${domain}>`);
	if (random.chance(0.05)) headers.push('X-Priority: 1 (Highest)');

	const attachments: GeneratedAttachment[] = [];
	let text: string;
	let body: string;
	const textEncoding = (): TransferEncoding => (random.chance(0.3) ? 'base64' : 'quoted-printable');
	if (kind === 'charset') {
		const lines = CHARSET_TEXT[charset].body;
		text = Array.from({ length: random.int(3, 12) }, () => random.pick(lines)).join('\n');
		const encoding: TransferEncoding = charset === 'iso-2022-jp' ? '7bit' : random.pick(['8bit', 'quoted-printable', 'base64'] as const);
		body = textPart('text/plain', text, charset, encoding);
	} else {
		text = paragraphs(random, random.int(2, 20), unicode);
		const plain = textPart('text/plain', text, 'utf-8', unicode ? textEncoding() : random.pick(['7bit', 'quoted-printable', 'base64'] as const));
		const html = () => textPart('text/html', `<html><body>${text.split('\n\n').map((p) => `<p>${p}</p>`).join('\n')}</body></html>`, 'utf-8', 'quoted-printable');
		if (kind === 'plain') {
			body = plain;
		} else {
			const alt = boundary(random, 'alt');
			const alternative = `Content-Type: multipart/alternative; boundary="${alt}"${CRLF}${CRLF}--${alt}${CRLF}${plain}--${alt}${CRLF}${html()}--${alt}--${CRLF}`;
			if (kind === 'alternative') {
				body = alternative;
			} else if (kind === 'related') {
				const rel = boundary(random, 'rel');
				const cid = `logo-${seed}-${index}@${domain}`;
				body = `Content-Type: multipart/related; boundary="${rel}"; type="multipart/alternative"${CRLF}${CRLF}--${rel}${CRLF}${alternative}--${rel}${CRLF}Content-Type: image/png; name="logo.png"${CRLF}Content-Transfer-Encoding: base64${CRLF}Content-ID: <${cid}>${CRLF}Content-Disposition: inline; filename="logo.png"${CRLF}${CRLF}${base64Lines(INLINE_PNG)}${CRLF}--${rel}--${CRLF}`;
			} else {
				const mixed = boundary(random, 'mix');
				const max = opts.maxAttachmentBytes ?? 5 * 1024 * 1024;
				const parts: string[] = [random.chance(0.5) ? alternative : plain];
				for (let n = exactMax ? 1 : random.int(1, 3); n > 0; n--) {
					const type = random.pick(ATTACHMENT_TYPES);
					const size = exactMax ? max : Math.min(max, Math.round(10_240 * Math.exp(random.float() * Math.log(max / 10_240))));
					const data = attachmentBytes(random, size);
					const filename = `${random.pick(ATTACHMENT_NAMES)}.${type.ext}`;
					attachments.push({ filename, contentType: type.type, size, sha256: crypto.createHash('sha256').update(data).digest('hex') });
					parts.push(
						`Content-Type: ${type.type}; name="${encodedWords(filename, 'utf-8')}"${CRLF}Content-Transfer-Encoding: base64${CRLF}Content-Disposition: attachment; filename*=${rfc2231(filename)}${CRLF}${CRLF}${base64Lines(data)}${CRLF}`,
					);
				}
				body = `Content-Type: multipart/mixed; boundary="${mixed}"${CRLF}${CRLF}This is a multi-part message in MIME format.${CRLF}${parts.map((p) => `--${mixed}${CRLF}${p}`).join('')}--${mixed}--${CRLF}`;
			}
		}
	}
	const raw = Buffer.concat([Buffer.from(headers.join(CRLF) + CRLF, 'latin1'), Buffer.from(body, 'latin1')]);
	return { index, raw, messageId, date, flags, kind, subject, from: sender.address, text, attachments, charset };
}

/** Everything a parser must survive, in one message. */
function malformed(seed: number, index: number, domain: string, to: string, date: Date, flags: string[]): GeneratedMessage {
	const messageId = `<malformed-${seed}@${domain}>`;
	const raw = Buffer.concat([
		Buffer.from(
			[
				'From: "Broken Sender <broken@' + domain + '>',
				`To: ${to}`,
				'Subject: =?UTF-8?B?SGVsbG8gd29ybGQ?= =?ISO-8859-1?Q?caf=E9_=ZZ?= =?UNKNOWN?X?abc?=',
				`Date: ${date.toUTCString()}`,
				`Message-ID: ${messageId}`,
				'MIME-Version: 1.0',
				'This header line has no colon',
				'',
			].join(CRLF),
			'latin1',
		),
		Buffer.from([0x58, 0x2d, 0x52, 0x61, 0x77, 0x3a, 0x20, 0x66, 0xfc, 0x72, 0x20, 0xe9, 0x74, 0xe9, 0x0d, 0x0a]), // "X-Raw: f\xfcr \xe9t\xe9" raw 8-bit
		Buffer.from(
			[
				'Content-Type: multipart/mixed; boundary="outer"',
				'Content-Type: text/plain; charset=utf-8',
				'',
				'--outer',
				'Content-Type: text/plain; charset="utf-8"',
				'Content-Transfer-Encoding: quoted-printable',
				'',
				'Bad quoted-printable: =G1 =4 and a soft break at the end =',
				'--outer',
				'Content-Type: application/octet-stream; name="broken.bin"',
				'Content-Transfer-Encoding: base64',
				'',
				'SGVsbG8*gd29y!bGQ=== not base64 at all ===',
				'--outer',
				'Content-Type: multipart/alternative; boundary="inner"',
				'',
				'--inner',
				'Content-Type: text/html',
				'',
				'<p>unclosed inner part',
				'',
			].join(CRLF),
			'latin1',
		),
	]);
	return { index, raw, messageId, date, flags, kind: 'malformed', subject: '', from: `broken@${domain}`, text: '', attachments: [], charset: 'utf-8' };
}

export function* generateMessages(opts: GenerateOptions): Generator<GeneratedMessage> {
	const seed = opts.seed ?? 42;
	const start = opts.startIndex ?? 0;
	for (let i = start; i < start + opts.count; i++) yield generateMessage(seed, i, opts);
}
