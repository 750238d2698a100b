/**
 * Realistic test mail, deterministic from a seed.
 *
 * Kinds (default mix): ~72% text/plain (7bit, 8bit, quoted-printable or base64; ASCII or UTF-8
 * with RFC 2047 subjects and display names), ~15% multipart/alternative (text + HTML), ~5%
 * multipart/related (alternative + an inline PNG referenced by cid:), ~5.5% text/plain in a
 * non-UTF-8 charset (subject, display name and body in that charset and language), `attachPct`%
 * multipart/mixed with 1-3 attachments (10 KiB .. maxAttachmentBytes, log-uniform, RFC 2231
 * non-ASCII file names), and exactly one deliberately malformed message at index
 * {@link MALFORMED_INDEX}.
 *
 * Message `index` of seed `seed` is computed from its own PRNG stream (keyed by seed and index),
 * so `generateMessage(seed, i)` needs no earlier message and always gives the same bytes, which
 * are the bytes the generator yields at that index. All line ends are CRLF. Dates are whole
 * seconds spread over the two years before a fixed epoch ({@link EPOCH}).
 */
import crypto from 'node:crypto';
import Encoding from 'encoding-japanese';
import iconv from 'iconv-lite';

export type MessageKind = 'plain' | 'alternative' | 'related' | 'attachments' | 'charset' | 'malformed';

export interface GeneratedAttachment {
	/** The decoded file name (may be non-ASCII). */
	filename: string;
	contentType: string;
	/** Size of the decoded content in bytes. */
	size: number;
	/** Hex SHA-256 of the decoded content. */
	sha256: string;
}

export interface GeneratedMessage {
	index: number;
	/** The message as stored: RFC 5322, CRLF line ends. */
	raw: Buffer;
	messageId: string;
	/** Date header = intended INTERNALDATE; whole seconds. */
	date: Date;
	/** IMAP system flags, e.g. ['\\Seen', '\\Answered']. */
	flags: string[];
	kind: MessageKind;
	/** The subject as a reader sees it (decoded). */
	subject: string;
	/** The sender's address (without display name). */
	from: string;
	/** Files with Content-Disposition: attachment (the inline image of 'related' is not listed). */
	attachments: GeneratedAttachment[];
	/** Charset of the text part ('utf-8' or 'us-ascii' unless kind is 'charset'). */
	charset: string;
	/** The decoded text/plain body as intended, with \n line ends ('' for the malformed one). */
	text: string;
	/** With catch-all seeding: the address the message was sent to (its X-Original-To). */
	envelopeTo?: string;
}

export interface GenerateOptions {
	/** Default 42. */
	seed?: number;
	count: number;
	/** Share of messages with attachments, in percent (default 2). */
	attachPct?: number;
	/** Largest attachment in bytes (default 5 MiB). The message at every index ≡ {@link MAX_ATTACHMENT_INDEX} (mod 5000) carries one of exactly this size (unless attachPct is 0). */
	maxAttachmentBytes?: number;
	/** Index of the first generated message (default 0). */
	startIndex?: number;
	/** Default 'example.test'; used in Message-IDs and the receiving side's headers. */
	domain?: string;
	/** The To address (default alice@<domain>). */
	to?: string;
	/**
	 * Catch-all seeding: every message arrives in the catch-all `mailbox` for one of `recipients`
	 * (message i for recipients[i % length]), as a mail server delivers it: `Delivered-To: <mailbox>`
	 * and `X-Original-To: <recipient>` on top, the recipient in To. Replaces `to`.
	 */
	catchAll?: { mailbox: string; recipients: readonly string[] };
}

/** The malformed message's index. Every set that covers it (e.g. startIndex 0 and count >= 8) has exactly this one. */
export const MALFORMED_INDEX = 7;
/** Indexes ≡ this (mod 5000) carry an attachment of exactly maxAttachmentBytes. */
export const MAX_ATTACHMENT_INDEX = 999;
/** All dates lie in the two years before this instant (2026-01-01T00:00:00Z). */
export const EPOCH = new Date(Date.UTC(2026, 0, 1));
/** The non-UTF-8 charsets of kind 'charset'. */
export const CHARSETS = ['iso-8859-1', 'iso-8859-2', 'iso-8859-7', 'windows-1252', 'windows-1251', 'koi8-r', 'shift_jis', 'iso-2022-jp', 'euc-jp', 'gb2312', 'big5', 'euc-kr'] as const;

const CRLF = '\r\n';
const KIB = 1024;
const TWO_YEARS_S = 730 * 86_400;

// --- deterministic randomness --------------------------------------------------------------

function fmix32(h: number): number {
	h ^= h >>> 16;
	h = Math.imul(h, 0x85ebca6b);
	h ^= h >>> 13;
	h = Math.imul(h, 0xc2b2ae35);
	h ^= h >>> 16;
	return h >>> 0;
}

/** mulberry32, keyed by (seed, index, stream) through murmur3's finaliser. */
export class Random {
	private state: number;
	constructor(seed: number, index: number, stream = 0) {
		const s = Math.trunc(seed);
		const i = Math.trunc(index);
		let h = fmix32((s >>> 0) ^ 0x9e3779b9);
		h = fmix32(h ^ (Math.floor(s / 4294967296) >>> 0) ^ 0x7f4a7c15);
		h = fmix32(h ^ (i >>> 0) ^ 0x632be5ab);
		h = fmix32(h ^ (Math.floor(i / 4294967296) >>> 0) ^ Math.imul(stream + 1, 0x2545f491));
		this.state = h;
	}
	uint32(): number {
		this.state = (this.state + 0x6d2b79f5) | 0;
		let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return (t ^ (t >>> 14)) >>> 0;
	}
	float(): number {
		return this.uint32() / 4294967296;
	}
	int(min: number, max: number): number {
		return min + Math.floor(this.float() * (max - min + 1));
	}
	chance(p: number): boolean {
		return this.float() < p;
	}
	pick<T>(list: readonly T[]): T {
		return list[Math.floor(this.float() * list.length)];
	}
	hex(bytes: number): string {
		let out = '';
		while (out.length < bytes * 2) out += this.uint32().toString(16).padStart(8, '0');
		return out.slice(0, bytes * 2);
	}
	logUniform(min: number, max: number): number {
		if (max <= min) return max;
		return Math.round(Math.exp(Math.log(min) + this.float() * (Math.log(max) - Math.log(min))));
	}
}

// --- English/UTF-8 material ----------------------------------------------------------------

interface Person {
	name: string;
	address: string;
}

const FIRST = ['Anna', 'Jonas', 'Maria', 'Lukas', 'Sophie', 'Paul', 'Emma', 'Felix', 'Laura', 'David', 'Sarah', 'Tim', 'Julia', 'Ben', 'Olivia', 'Noah', 'Chloé', 'Søren', 'Zoë', 'Mikael'];
const LAST = ['Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Hoffmann', 'Koch', 'Smith', 'Jones', 'García', "O'Brien", 'Nguyen', 'Kowalski', 'Jørgensen', 'Dubois'];
const COMPANIES = ['acme-gmbh.test', 'contoso.test', 'northwind.test', 'fabrikam.test', 'tailspin.test', 'example.org', 'mail.example.com', 'lists.example.net'];
const SUBJECTS = ['Invoice {n}', 'Order confirmation {n}', 'Meeting notes {day}', 'Quarterly report Q{q}', 'Delivery date for order {n}', 'Question about your offer', 'Registration confirmed', 'Contract draft v{v}', 'Reminder: timesheets due {day}', 'Travel plans for {day}', 'Support ticket #{n}', 'Newsletter {month}', 'Angebot {n}', 'Rechnung {n}', 'Lieferschein {n}', 'Budget review', 'Server maintenance window {day}', 'Your password expires soon'];
const UNICODE_SUBJECTS = ['Grüße aus Köln', 'Terminbestätigung für {day}', 'Angebot für Größe XL – {n} €', 'Réunion – ordre du jour', 'Übersicht März', 'Łódź: dostawa {n}', '会議の議事録 {day}', 'Отчёт за квартал {q}', 'Ελληνικά έγγραφα', '🎉 Team event on {day}', '✓ Freigabe erteilt', '“Quoted” subject — with dashes', 'Smørrebrød & café au lait'];
const UNICODE_WORDS = ['Grüße', 'Bestätigung', 'Übersicht', 'naïve', 'café', 'Größe', 'Straße', 'déjà vu', 'façade', '12,50 €', '—', '“Zitat”', 'smörgåsbord', 'Ærø', 'Łódź', 'ñandú', 'İstanbul', '日本語', 'Привет', 'Ελληνικά', '✓', '💌'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const SENTENCES = [
	'Thanks for your quick reply.',
	'Please find the updated figures below.',
	'As discussed in our call on {day}, we will move the deadline by one week.',
	'The invoice {n} is attached for your records.',
	'Could you confirm the delivery address before we ship the order?',
	'Our team reviewed the proposal and has a few questions about the budget.',
	'The meeting is scheduled for {day} at {hh}:00 in room {room}.',
	'Let me know if anything is missing.',
	'We have received your payment of {amount} EUR, thank you.',
	'The server will be unavailable on {day} between {hh}:00 and {hh2}:00 for maintenance.',
	'I have added the notes from the workshop to the shared folder.',
	'The contract draft still needs approval from legal.',
	'Please make sure all timesheets are submitted by {day}.',
	'Shipping usually takes three to five business days.',
	'Your ticket {n} has been assigned to the second-level support team.',
	'We are happy to offer you a discount of {pct} percent on your next order.',
	'The quarterly numbers look better than expected, revenue grew by {pct} percent.',
	'Attached you will find the agenda for next week.',
	'If you have any questions, feel free to reach out to me directly.',
	'I am out of office until {day}, with limited access to email.',
	'The release {v}.{n2} is planned for the end of {month}.',
	'Can we move our call to {hh}:30?',
	'The backup job failed twice last night; we are looking into it.',
	'Please review the changes and give your feedback by {day}.',
	'The hotel is booked, the flight details follow in a separate message.',
	'Our records show that order {n} has not been delivered yet.',
	'We appreciate your patience while we resolve this issue.',
	'The minutes of the last meeting are below.',
	'Please do not reply to this automatically generated message.',
	'You can unsubscribe from this newsletter at any time.',
	'The project is on track, the next milestone is due in {month}.',
	'Kind regards from the whole team.',
];
const GREETINGS = ['Hi {first},', 'Hello {first},', 'Dear {first},', 'Good morning {first},', 'Hallo {first},', '{first},'];
const CLOSINGS = ['Best regards,', 'Kind regards,', 'Thanks,', 'Cheers,', 'Viele Grüße,', 'Regards,'];
const MAILERS = ['Microsoft Outlook 16.0', 'Apple Mail (2.3774.200.91.1.1)', 'Mozilla Thunderbird 128.5.0', 'Roundcube Webmail/1.6.9', 'SOGoMail 5.11.0', 'Mailbox test generator'];
const TIMEZONES = [0, 60, 120, -300, -240, -420, 330, 540, 600, -180];

function fill(template: string, random: Random, first = 'Anna'): string {
	return template.replace(/\{(\w+)\}/g, (_, key: string) => {
		switch (key) {
			case 'n': return String(random.int(1000, 99999));
			case 'n2': return String(random.int(0, 20));
			case 'v': return String(random.int(1, 9));
			case 'q': return String(random.int(1, 4));
			case 'day': return random.pick(DAYS);
			case 'month': return random.pick(MONTHS);
			case 'hh': return String(random.int(8, 16));
			case 'hh2': return String(random.int(17, 22));
			case 'room': return `${random.int(1, 5)}.${random.int(10, 40)}`;
			case 'amount': return `${random.int(10, 9999)}.${String(random.int(0, 99)).padStart(2, '0')}`;
			case 'pct': return String(random.int(2, 30));
			case 'first': return first;
			default: return key;
		}
	});
}

function wrap(text: string, width = 72): string[] {
	const lines: string[] = [];
	let line = '';
	for (const word of text.split(' ')) {
		if (line && line.length + 1 + word.length > width) {
			lines.push(line);
			line = word;
		} else {
			line = line ? `${line} ${word}` : word;
		}
	}
	if (line) lines.push(line);
	return lines;
}

/** About 1.5 MB of wrapped English paragraphs, the same on every run; bodies are slices of it. */
const POOL = (() => {
	const random = new Random(0x5eed, 0, 99);
	const out: string[] = [];
	let size = 0;
	while (size < 1_500_000) {
		const sentences: string[] = [];
		for (let n = random.int(2, 6); n > 0; n--) sentences.push(fill(random.pick(SENTENCES), random));
		const paragraph = wrap(sentences.join(' ')).join('\n');
		out.push(paragraph);
		size += paragraph.length + 2;
	}
	return out.join('\n\n') + '\n\n';
})();

/** Whole paragraphs from the pool, about `bytes` long, ending in '\n'. */
function poolText(random: Random, bytes: number): string {
	const want = Math.min(bytes, POOL.length / 2);
	let start = random.int(0, POOL.length - want - 2000);
	start = start === 0 ? 0 : POOL.indexOf('\n\n', start) + 2;
	let end = POOL.indexOf('\n\n', start + want);
	if (end < 0) end = POOL.length - 2;
	return POOL.slice(start, end + 1);
}

// --- other charsets: real text in each language --------------------------------------------

interface LanguageText {
	names: [string, string][];
	subjects: string[];
	greeting: string;
	sentences: string[];
	closing: string;
}

const CHARSET_TEXT: Record<(typeof CHARSETS)[number], LanguageText> = {
	'iso-8859-1': {
		names: [['Jürgen Müller', 'juergen.mueller'], ['Françoise Lefèvre', 'f.lefevre'], ['José Peña', 'jose.pena'], ['Björn Åström', 'bjorn.astrom']],
		subjects: ['Bestellung für Müller & Söhne', 'Réunion à Genève, ordre du jour', 'Größenänderung der Lieferung', 'Reunión del próximo lunes'],
		greeting: 'Sehr geehrte Damen und Herren,',
		sentences: ['anbei erhalten Sie die Übersicht für das nächste Quartal.', 'Die Lieferung erfolgt voraussichtlich übermorgen.', 'Nous avons reçu votre commande, elle sera livrée après-demain.', 'Bitte prüfen Sie die beigefügten Unterlagen bis Freitag.', 'Für Rückfragen stehe ich Ihnen gern zur Verfügung.', 'El pedido número 42 está en camino, señor García.', 'Die Größe der Kartons ändert sich ab März.'],
		closing: 'Mit freundlichen Grüßen aus Köln',
	},
	'windows-1252': {
		names: [['Chloë Dupré', 'chloe.dupre'], ['Noël Œhlers', 'noel.oehlers'], ['Šárka Hübner', 'sarka.huebner']],
		subjects: ['Offer “Premium” – 20 € off', 'Café order … confirmed', 'Œuvre complète – invoice'],
		greeting: 'Dear customer,',
		sentences: ['Thank you for your order – it ships on Monday.', 'Price: 199 € (incl. VAT) … see the attached terms.', 'The “Premium” plan includes œuvres complètes and free shipping.', 'Your voucher is worth 25 € — valid until 31 March.', 'We’re sorry for the delay; the parcel is on its way.'],
		closing: 'Best regards – the Café Šumava team',
	},
	'iso-8859-2': {
		names: [['Łukasz Wójcik', 'lukasz.wojcik'], ['Jiří Dvořák', 'jiri.dvorak'], ['Zoltán Kővári', 'zoltan.kovari'], ['Agnieszka Żółtowska', 'a.zoltowska']],
		subjects: ['Zamówienie nr 42 - Łódź', 'Příjemný den, faktura v příloze', 'Szállítási határidő módosítása'],
		greeting: 'Dzień dobry,',
		sentences: ['przesyłam ofertę na przyszły miesiąc.', 'Příliš žluťoučký kůň úpěl ďábelské ódy.', 'Szanowni Państwo, dziękujemy za współpracę.', 'Zażółć gęślą jaźń.', 'Faktura bude odeslána zítra ráno.', 'Árvíztűrő tükörfúrógép.'],
		closing: 'Z poważaniem',
	},
	'iso-8859-7': {
		names: [['Γιώργος Παπαδόπουλος', 'g.papadopoulos'], ['Ελένη Νικολάου', 'eleni.nikolaou']],
		subjects: ['Παραγγελία και τιμολόγιο', 'Συνάντηση την Τρίτη', 'Προσφορά για το νέο έργο'],
		greeting: 'Καλημέρα σας,',
		sentences: ['σας στέλνουμε την προσφορά μας για τον επόμενο μήνα.', 'Ευχαριστούμε για τη συνεργασία.', 'Η παράδοση θα γίνει την Πέμπτη το πρωί.', 'Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.', 'Παρακαλούμε επιβεβαιώστε τη διεύθυνση αποστολής.'],
		closing: 'Με εκτίμηση',
	},
	'windows-1251': {
		names: [['Дмитрий Смирнов', 'd.smirnov'], ['Екатерина Волкова', 'e.volkova']],
		subjects: ['Счёт на оплату № 1234', 'Встреча в понедельник', 'Договор поставки — новая редакция'],
		greeting: 'Добрый день!',
		sentences: ['Направляем вам счёт на оплату.', 'Просим подтвердить получение документов.', 'Встреча переносится на понедельник, на десять часов.', 'В приложении новая редакция договора.', 'Будем рады ответить на ваши вопросы.'],
		closing: 'С уважением, отдел продаж',
	},
	'koi8-r': {
		names: [['Иван Петров', 'ivan.petrov'], ['Наталья Соколова', 'n.sokolova'], ['Алексей Фёдоров', 'a.fedorov']],
		subjects: ['Заказ подтверждён', 'Отчёт за квартал', 'Съешь же ещё этих мягких французских булок'],
		greeting: 'Здравствуйте!',
		sentences: ['Ваш заказ подтверждён и будет отправлен завтра.', 'Спасибо за сотрудничество.', 'Съешь же ещё этих мягких французских булок, да выпей чаю.', 'Отчёт за третий квартал готов, цифры лучше ожидаемых.', 'Пожалуйста, проверьте адрес доставки.'],
		closing: 'С уважением, Иван',
	},
	shift_jis: {
		names: [['山田 太郎', 'taro.yamada'], ['佐藤 花子', 'hanako.sato']],
		subjects: ['ご注文の確認', '会議のお知らせ', '見積書送付のご案内'],
		greeting: 'いつもお世話になっております。',
		sentences: ['ご注文ありがとうございます。', '来週の会議は月曜日の午後三時からです。', '見積書を添付いたしましたので、ご確認ください。', 'いろはにほへと　ちりぬるを。', 'ご不明な点がございましたら、お気軽にお問い合わせください。'],
		closing: '今後ともよろしくお願いいたします。',
	},
	'iso-2022-jp': {
		names: [['鈴木 一郎', 'ichiro.suzuki'], ['高橋 美咲', 'misaki.takahashi']],
		subjects: ['請求書の送付について', '打ち合わせの日程', '議事録をお送りします'],
		greeting: 'お世話になっております。',
		sentences: ['請求書をお送りいたします。', '打ち合わせの日程を調整させてください。', '会議の議事録を送付します。', '納期は来月末を予定しております。', '引き続きよろしくお願いいたします。'],
		closing: 'よろしくお願いいたします。',
	},
	'euc-jp': {
		names: [['田中 健', 'ken.tanaka'], ['渡辺 由美', 'yumi.watanabe']],
		subjects: ['出荷のご案内', '見積書', '本日の会議について'],
		greeting: 'お疲れさまです。',
		sentences: ['本日商品を出荷いたしました。', 'ご確認のほどよろしくお願いいたします。', '本日の会議は午後三時からです。', '資料は共有フォルダに保存しました。', '到着まで二日ほどかかる見込みです。'],
		closing: '以上、よろしくお願いします。',
	},
	gb2312: {
		names: [['王伟', 'wang.wei'], ['李娜', 'li.na'], ['张敏', 'zhang.min']],
		subjects: ['订单确认', '会议通知', '关于合同的修改意见'],
		greeting: '您好，',
		sentences: ['您的订单已经确认，我们将尽快发货。', '谢谢您的合作。', '会议将于下周一上午十点举行。', '请查收附件中的报价单。', '如有任何问题，请随时与我联系。'],
		closing: '此致敬礼',
	},
	big5: {
		names: [['陳志明', 'chen.zhiming'], ['林美玲', 'lin.meiling']],
		subjects: ['訂單確認', '會議通知', '這是一封測試郵件'],
		greeting: '您好，',
		sentences: ['我們已收到您的訂單，將於明天出貨。', '謝謝您的支持。', '會議時間改為星期三下午兩點。', '請確認附件中的報價。', '謝謝您的耐心等候。'],
		closing: '敬祝商祺',
	},
	'euc-kr': {
		names: [['김민준', 'minjun.kim'], ['이서연', 'seoyeon.lee'], ['박지훈', 'jihun.park']],
		subjects: ['주문 확인', '회의 안내', '견적서를 보내드립니다'],
		greeting: '안녕하세요.',
		sentences: ['주문이 확인되었습니다.', '회의는 다음 주 월요일 오전 열 시에 시작합니다.', '첨부된 견적서를 확인해 주세요.', '배송은 이삼 일 정도 걸립니다.', '문의 사항이 있으시면 언제든지 연락 주십시오.'],
		closing: '감사합니다.',
	},
};

/** How the charset is spelled in headers (real mail mixes cases). */
const CHARSET_LABELS: Record<string, string[]> = {
	'iso-8859-1': ['iso-8859-1', 'ISO-8859-1'],
	'windows-1252': ['windows-1252', 'Windows-1252'],
	'iso-8859-2': ['iso-8859-2', 'ISO-8859-2'],
	'iso-8859-7': ['iso-8859-7', 'ISO-8859-7'],
	'windows-1251': ['windows-1251', 'Windows-1251'],
	'koi8-r': ['koi8-r', 'KOI8-R'],
	shift_jis: ['shift_jis', 'Shift_JIS'],
	'iso-2022-jp': ['iso-2022-jp', 'ISO-2022-JP'],
	'euc-jp': ['euc-jp', 'EUC-JP'],
	gb2312: ['gb2312', 'GB2312'],
	big5: ['big5', 'Big5'],
	'euc-kr': ['euc-kr', 'EUC-KR'],
};

// --- attachments ---------------------------------------------------------------------------

const ATTACHMENT_TYPES = [
	{ ext: 'pdf', type: 'application/pdf' },
	{ ext: 'zip', type: 'application/zip' },
	{ ext: 'jpg', type: 'image/jpeg' },
	{ ext: 'png', type: 'image/png' },
	{ ext: 'xlsx', type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
	{ ext: 'csv', type: 'text/csv' },
	{ ext: 'bin', type: 'application/octet-stream' },
] as const;
const ATTACHMENT_NAMES = ['Übersicht Q3 – Käse', 'Rechnung März 2025', '見積書_2025年度', 'Договор поставки', 'report', 'Präsentation (final)', 'scan_2025-05-12', 'Fotos Sommerfest', 'Ελληνικά στοιχεία', 'résumé', 'export', '請求書 最終版 修正済み 第二版 承認待ち', 'Very long file name with many words so that RFC 2231 continuations are needed – Überlänge'];
const MAGIC: Record<string, [Buffer, Buffer]> = {
	pdf: [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'), Buffer.from('\n%%EOF\n')],
	zip: [Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00]), Buffer.from([0x50, 0x4b, 0x05, 0x06])],
	xlsx: [Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00]), Buffer.from([0x50, 0x4b, 0x05, 0x06])],
	jpg: [Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]), Buffer.from([0xff, 0xd9])],
	png: [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('IEND')],
	bin: [Buffer.alloc(0), Buffer.alloc(0)],
};
const CSV_CUSTOMERS = ['Acme GmbH', 'Müller & Söhne', 'Contoso Ltd', 'Café Zürich', 'Northwind', 'Żabka Sp. z o.o.', 'Fabrikam Inc.'];
const CSV_CITIES = ['München', 'Zürich', 'Kraków', 'Paris', 'London', 'São Paulo', 'Köln', 'Wien'];

/** Binary content: a 4 KiB seeded block, repeated with a counter so no two blocks are equal. */
function binaryContent(random: Random, size: number, ext: string): Buffer {
	const block = Buffer.allocUnsafe(4096);
	for (let i = 0; i < block.length; i += 4) block.writeUInt32LE(random.uint32(), i);
	const data = Buffer.allocUnsafe(size);
	for (let offset = 0, n = 0; offset < size; offset += block.length, n++) {
		block.writeUInt32LE(n, 0);
		block.copy(data, offset, 0, Math.min(block.length, size - offset));
	}
	const [head, tail] = MAGIC[ext] ?? MAGIC.bin;
	if (size >= head.length + tail.length) {
		head.copy(data, 0);
		tail.copy(data, size - tail.length);
	}
	return data;
}

/** A UTF-8 CSV export of exactly `size` bytes: 64 seeded rows, numbered and repeated. */
function csvContent(random: Random, size: number): Buffer {
	const block = Array.from({ length: 64 }, () => `;2025-${String(random.int(1, 12)).padStart(2, '0')}-${String(random.int(1, 28)).padStart(2, '0')};${random.pick(CSV_CUSTOMERS)};${random.pick(CSV_CITIES)};${random.int(1, 99999)}.${String(random.int(0, 99)).padStart(2, '0')};EUR\r\n`);
	const blockBytes = block.map((row) => Buffer.byteLength(row));
	const rows: string[] = ['id;date;customer;city;amount;currency\r\n'];
	let bytes = rows[0].length;
	for (let id = 1; bytes < size; id++) {
		rows.push(`${id}${block[id & 63]}`);
		bytes += String(id).length + blockBytes[id & 63];
	}
	const data = Buffer.from(rows.join(''), 'utf8');
	if (data.length === size) return data;
	// Cut to size, then make the cut row ASCII so no character is split.
	const out = data.subarray(0, size);
	out.fill(0x2d, out.lastIndexOf(0x0a) + 1); // '-'
	return out;
}

// --- a real (tiny) PNG for multipart/related ------------------------------------------------

const CRC_TABLE = (() => {
	const table = new Int32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		table[n] = c;
	}
	return table;
})();

function crc32(...parts: Buffer[]): number {
	let c = -1;
	for (const part of parts) for (let i = 0; i < part.length; i++) c = CRC_TABLE[(c ^ part[i]) & 0xff] ^ (c >>> 8);
	return (c ^ -1) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
	const head = Buffer.alloc(8);
	head.writeUInt32BE(data.length, 0);
	head.write(type, 4, 'latin1');
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(head.subarray(4), data), 0);
	return Buffer.concat([head, data, crc]);
}

/** A valid RGB PNG with a seeded gradient; zlib stream of stored blocks, so bytes never depend on the zlib build. */
function inlinePng(random: Random): Buffer {
	const width = random.int(48, 160);
	const height = random.int(16, 48);
	const [r0, g0, b0] = [random.int(0, 255), random.int(0, 255), random.int(0, 255)];
	const stride = width * 3 + 1;
	const pixels = Buffer.alloc(stride * height);
	for (let y = 0; y < height; y++) {
		for (let x = 0; x < width; x++) {
			const o = y * stride + 1 + x * 3;
			pixels[o] = (r0 + x * 2) & 0xff;
			pixels[o + 1] = (g0 + y * 4) & 0xff;
			pixels[o + 2] = (b0 + x + y) & 0xff;
		}
	}
	const blocks: Buffer[] = [Buffer.from([0x78, 0x01])];
	for (let offset = 0; offset < pixels.length; offset += 65535) {
		const len = Math.min(65535, pixels.length - offset);
		const head = Buffer.alloc(5);
		head[0] = offset + len >= pixels.length ? 1 : 0;
		head.writeUInt16LE(len, 1);
		head.writeUInt16LE(~len & 0xffff, 3);
		blocks.push(head, pixels.subarray(offset, offset + len));
	}
	let a = 1;
	let b = 0;
	for (let i = 0; i < pixels.length; i++) {
		a = (a + pixels[i]) % 65521;
		b = (b + a) % 65521;
	}
	const adler = Buffer.alloc(4);
	adler.writeUInt32BE(((b << 16) | a) >>> 0, 0);
	blocks.push(adler);
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(width, 0);
	ihdr.writeUInt32BE(height, 4);
	ihdr[8] = 8; // bit depth
	ihdr[9] = 2; // RGB
	return Buffer.concat([MAGIC.png[0], pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.concat(blocks)), pngChunk('IEND', Buffer.alloc(0))]);
}

// --- encoders ------------------------------------------------------------------------------

function encode(text: string, charset: string): Buffer {
	if (charset === 'utf-8' || charset === 'us-ascii') return Buffer.from(text, 'utf8');
	// iconv-lite has no ISO-2022-JP encoder; encoding-japanese (which mailparser also uses) has.
	if (charset === 'iso-2022-jp') return Buffer.from(Encoding.convert(Encoding.stringToCode(text), { to: 'JIS', from: 'UNICODE', type: 'array' }));
	return iconv.encode(text, charset);
}

function isAscii(text: string): boolean {
	return /^[\x20-\x7e]*$/.test(text);
}

const HEX = Buffer.from('0123456789ABCDEF');

/** 1 for bytes quoted-printable keeps as they are (printable ASCII but '='); space and tab are handled apart. */
const QP_LITERAL = Uint8Array.from({ length: 256 }, (_, b) => (b >= 33 && b <= 126 && b !== 61 ? 1 : 0));

/** Quoted-printable (RFC 2045) of CRLF text: lines <= 76, soft breaks, trailing whitespace encoded. */
function quotedPrintable(data: Buffer): Buffer {
	const out = Buffer.allocUnsafe(data.length * 3 + Math.ceil(data.length / 24) * 3 + 8);
	const n = data.length;
	let o = 0;
	let col = 0;
	for (let i = 0; i < n; i++) {
		const byte = data[i];
		if (QP_LITERAL[byte] === 1) {
			if (col === 75) {
				out[o++] = 61;
				out[o++] = 13;
				out[o++] = 10;
				col = 0;
			}
			out[o++] = byte;
			col++;
			continue;
		}
		if (byte === 13 && data[i + 1] === 10) {
			out[o++] = 13;
			out[o++] = 10;
			col = 0;
			i++;
			continue;
		}
		const literal = (byte === 32 || byte === 9) && i + 1 < n && data[i + 1] !== 13;
		if (col + (literal ? 1 : 3) > 75) {
			out[o++] = 61;
			out[o++] = 13;
			out[o++] = 10;
			col = 0;
		}
		if (literal) {
			out[o++] = byte;
			col++;
		} else {
			out[o++] = 61;
			out[o++] = HEX[byte >> 4];
			out[o++] = HEX[byte & 15];
			col += 3;
		}
	}
	return out.subarray(0, o);
}

/** Base64 in 76-character lines, each ending in CRLF; lines are moved into place with copyWithin. */
function base64Lines(data: Buffer): Buffer {
	const len = Math.ceil(data.length / 3) * 4;
	const total = len + Math.ceil(len / 76) * 2;
	const out = Buffer.allocUnsafe(total);
	const src = total - len;
	out.write(data.toString('base64'), src, 'latin1');
	let o = 0;
	for (let i = 0; i < len; i += 76) {
		const end = Math.min(i + 76, len);
		out.copyWithin(o, src + i, src + end);
		o += end - i;
		out[o++] = 13;
		out[o++] = 10;
	}
	return out;
}

function qEncode(bytes: Buffer): string {
	let out = '';
	for (const byte of bytes) {
		if ((byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)) out += String.fromCharCode(byte);
		else if (byte === 32) out += '_';
		else out += `=${String.fromCharCode(HEX[byte >> 4], HEX[byte & 15])}`;
	}
	return out;
}

/**
 * RFC 2047 encoded-words for `text`, split on character boundaries so that each word is at most
 * 60 characters (a folded header line then stays within 76). ASCII text is returned as is.
 */
function encodedWords(text: string, charset: string, label: string, mode: 'B' | 'Q'): string {
	if (isAscii(text)) return text;
	const chars = Array.from(text);
	const words: string[] = [];
	const word = (chunk: string) => {
		const bytes = encode(chunk, charset);
		return `=?${label}?${mode}?${mode === 'B' ? bytes.toString('base64') : qEncode(bytes)}?=`;
	};
	let chunk = '';
	for (const ch of chars) {
		if (chunk && word(chunk + ch).length > 60) {
			words.push(word(chunk));
			chunk = ch;
		} else {
			chunk += ch;
		}
	}
	if (chunk) words.push(word(chunk));
	return words.join(' ');
}

/** A header line folded at spaces so lines stay within 76 characters where possible. */
function fold(name: string, value: string): string {
	const tokens = value.split(' ');
	let line = `${name}: ${tokens[0]}`;
	const lines: string[] = [];
	for (let i = 1; i < tokens.length; i++) {
		if (line.length + 1 + tokens[i].length > 76) {
			lines.push(line);
			line = ` ${tokens[i]}`;
		} else {
			line += ` ${tokens[i]}`;
		}
	}
	lines.push(line);
	return lines.join(CRLF);
}

/** RFC 2231 extended parameter, with continuations when long: `filename*0*=utf-8''…; filename*1*=…`. */
function rfc2231(param: string, value: string): string {
	const encoded = encodeURIComponent(value).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
	if (encoded.length <= 50) return `${param}*=utf-8''${encoded}`;
	const pieces: string[] = [];
	let rest = encoded;
	while (rest) {
		let cut = Math.min(45, rest.length);
		const pct = rest.lastIndexOf('%', cut - 1);
		if (pct > cut - 3 && pct >= 0 && cut < rest.length) cut = pct; // never split a %XX triple
		pieces.push(rest.slice(0, cut));
		rest = rest.slice(cut);
	}
	return pieces.map((piece, i) => `${param}*${i}*=${i === 0 ? "utf-8''" : ''}${piece}`).join('; ');
}

function formatDate(date: Date, offsetMinutes: number): string {
	const local = new Date(date.getTime() + offsetMinutes * 60_000);
	const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
	const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
	const p = (n: number) => String(n).padStart(2, '0');
	const sign = offsetMinutes < 0 ? '-' : '+';
	const abs = Math.abs(offsetMinutes);
	return `${days[local.getUTCDay()]}, ${local.getUTCDate()} ${months[local.getUTCMonth()]} ${local.getUTCFullYear()} ${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())} ${sign}${p(Math.floor(abs / 60))}${p(abs % 60)}`;
}

// --- MIME structure ------------------------------------------------------------------------

/** Strings in a body are ASCII; everything else is a Buffer. */
type Chunk = Buffer | string;
interface Part {
	headers: [string, string][];
	body: Chunk[];
}

function serialize(part: Part): Chunk[] {
	return [part.headers.map(([name, value]) => fold(name, value)).join(CRLF) + CRLF + CRLF, ...part.body];
}

function multipart(subtype: string, boundary: string, children: Part[], preamble: boolean, extra = ''): Part {
	const body: Chunk[] = preamble ? [`This is a multi-part message in MIME format.${CRLF}${CRLF}`] : [];
	for (const child of children) body.push(`--${boundary}${CRLF}`, ...serialize(child));
	body.push(`--${boundary}--${CRLF}`);
	return { headers: [['Content-Type', `multipart/${subtype}; boundary="${boundary}"${extra}`]], body };
}

type TransferEncoding = '7bit' | '8bit' | 'quoted-printable' | 'base64';

function textPart(subtype: 'plain' | 'html', text: string, charset: string, label: string, encoding: TransferEncoding): Part {
	const bytes = encode(text.replace(/\n/g, CRLF), charset);
	const body = encoding === 'base64' ? base64Lines(bytes) : encoding === 'quoted-printable' ? quotedPrintable(bytes) : bytes;
	return {
		headers: [['Content-Type', `text/${subtype}; charset=${charset === 'iso-2022-jp' || charset === 'shift_jis' ? label : `"${label}"`}`], ['Content-Transfer-Encoding', encoding]],
		body: [body],
	};
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

function escapeHtml(text: string): string {
	return text.replace(/[&<>"]/g, (c) => HTML_ENTITIES[c]);
}

function htmlOf(text: string, cid?: string): string {
	const paragraphs = escapeHtml(text.trimEnd()).split('\n\n').map((p) => `<p>${p.replace(/\n/g, '<br>\n')}</p>`);
	const logo = cid ? `<p><img src="cid:${cid}" alt="Logo" style="display:block"></p>\n` : '';
	return `<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n<style>body { font-family: Arial, Helvetica, sans-serif; font-size: 14px; } p { margin: 0 0 1em; }</style>\n</head>\n<body>\n${logo}${paragraphs.join('\n')}\n</body>\n</html>\n`;
}

function utf8Person(random: Random): Person {
	const first = random.pick(FIRST);
	const last = random.pick(LAST);
	const local = `${first}.${last}`.normalize('NFD').toLowerCase().replace(/[^a-z.]/g, '');
	return { name: `${first} ${last}`, address: `${local}@${random.pick(COMPANIES)}` };
}

/** "Name" <address>, an encoded-word name, or a bare address. */
function mailbox(random: Random, person: Person, charset = 'utf-8', label = 'UTF-8'): string {
	if (!person.name) return person.address;
	if (isAscii(person.name)) return /^[A-Za-z' ]+$/.test(person.name) && random.chance(0.5) ? `${person.name} <${person.address}>` : `"${person.name}" <${person.address}>`;
	return `${encodedWords(person.name, charset, label, random.chance(0.7) ? 'B' : 'Q')} <${person.address}>`;
}

/** The To address as given, with a non-ASCII display name ("Name <addr>") encoded. */
function toHeader(to: string): string {
	const m = /^\s*"?(.*?)"?\s*<([^>]+)>\s*$/.exec(to);
	if (!m || isAscii(to)) return to;
	return `${encodedWords(m[1], 'utf-8', 'UTF-8', 'B')} <${m[2]}>`;
}

function chooseKind(random: Random, attachPct: number): MessageKind {
	const r = random.float() * 100;
	if (r < attachPct) return 'attachments';
	if (r < attachPct + 5.5) return 'charset';
	if (r < attachPct + 5.5 + 15) return 'alternative';
	if (r < attachPct + 5.5 + 20) return 'related';
	return 'plain';
}

function chooseFlags(random: Random): string[] {
	const flags: string[] = [];
	const seen = random.chance(0.6);
	if (seen) flags.push('\\Seen');
	if (seen && random.chance(0.15)) flags.push('\\Answered');
	if (random.chance(0.06)) flags.push('\\Flagged');
	return flags;
}

// --- messages ------------------------------------------------------------------------------

/** Message `index` of seed `seed`: the same bytes as the item at that index of {@link generateMessages}. */
export function generateMessage(seed: number, index: number, opts: Omit<GenerateOptions, 'count'> = {}): GeneratedMessage {
	const domain = opts.domain ?? 'example.test';
	const envelopeTo = opts.catchAll?.recipients.length ? opts.catchAll.recipients[index % opts.catchAll.recipients.length] : undefined;
	const to = toHeader(envelopeTo ?? opts.to ?? `alice@${domain}`);
	const attachPct = Math.max(0, Math.min(100, opts.attachPct ?? 2));
	const maxAttachment = Math.max(1, Math.floor(opts.maxAttachmentBytes ?? 5 * KIB * KIB));
	const random = new Random(seed, index);
	const date = new Date(EPOCH.getTime() - random.int(1, TWO_YEARS_S) * 1000);
	const tz = random.pick(TIMEZONES);
	const flags = chooseFlags(random);
	if (index === MALFORMED_INDEX) return malformed(seed, index, domain, to, date, tz, flags);

	const exactMax = attachPct > 0 && index % 5000 === MAX_ATTACHMENT_INDEX;
	const kind = exactMax ? 'attachments' : chooseKind(random, attachPct);
	const messageId = `<gen-${seed}-${index}@${domain}>`;
	const lang = kind === 'charset' ? random.pick(CHARSETS) : undefined;
	const language = lang ? CHARSET_TEXT[lang] : undefined;
	const label = lang ? random.pick(CHARSET_LABELS[lang]) : 'UTF-8';
	const unicode = !lang && random.chance(0.3);

	let sender: Person;
	if (language) {
		const [name, local] = random.pick(language.names);
		sender = { name, address: `${local}@${random.pick(COMPANIES)}` };
	} else {
		sender = utf8Person(random);
		if (random.chance(0.1)) sender.name = '';
		else if (!unicode) sender.name = sender.name.normalize('NFD').replace(/[^\x20-\x7e]/g, '');
	}
	const senderDomain = sender.address.slice(sender.address.indexOf('@') + 1);

	let subject = language ? random.pick(language.subjects) : fill(unicode && random.chance(0.6) ? random.pick(UNICODE_SUBJECTS) : random.pick(SUBJECTS), random);
	const reply = index > 0 && random.chance(0.15);
	if (reply) subject = `${random.pick(['Re: ', 'RE: ', 'AW: ', 'Re: Re: '])}${subject}`;
	else if (random.chance(0.04)) subject = `Fwd: ${subject}`;

	// Headers, in the order real mail has them.
	const offset = random.int(2, 90);
	const headers: [string, string][] = [
		['Return-Path', `<${sender.address}>`],
		['Received', `from mail.${senderDomain} (mail.${senderDomain} [192.0.2.${random.int(1, 254)}]) by mx.${domain} (Postfix) with ESMTPS id ${random.hex(5).toUpperCase()} for <${to.replace(/^.*<|>.*$/g, '')}>; ${formatDate(new Date(date.getTime() + offset * 1000), 0)}`],
		['Received', `from [10.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}] by mail.${senderDomain} with ESMTPSA id ${random.hex(8)}; ${formatDate(date, tz)}`],
		['Date', formatDate(date, tz)],
		['From', mailbox(random, sender, lang ?? 'utf-8', label)],
		['To', to],
	];
	if (random.chance(0.15)) {
		const cc = Array.from({ length: random.int(1, 3) }, () => mailbox(random, utf8Person(random)));
		headers.push(['Cc', cc.join(', ')]);
	}
	const subjectMode = random.chance(lang ? 0.7 : 0.6) ? 'B' : 'Q';
	if (!lang && unicode && random.chance(0.5) && /^(Re|RE|AW|Fwd): /.test(subject)) {
		// "Re: " stays plain text before the encoded-words, as many mailers write it.
		const prefix = subject.slice(0, subject.indexOf(': ') + 2);
		headers.push(['Subject', `${prefix}${encodedWords(subject.slice(prefix.length), 'utf-8', label, subjectMode)}`]);
	} else {
		headers.push(['Subject', encodedWords(subject, lang ?? 'utf-8', label, subjectMode)]);
	}
	headers.push(['Message-ID', messageId]);
	let parentIndex = -1;
	if (reply) {
		parentIndex = random.int(0, index - 1);
		const refs = [parentIndex];
		for (let n = random.int(0, 3); n > 0 && refs[0] > 0; n--) refs.unshift(random.int(0, refs[0] - 1));
		headers.push(['In-Reply-To', `<gen-${seed}-${parentIndex}@${domain}>`], ['References', refs.map((r) => `<gen-${seed}-${r}@${domain}>`).join(' ')]);
	}
	if (random.chance(0.06)) headers.push(['Reply-To', mailbox(random, utf8Person(random))]);
	if (random.chance(0.08)) {
		headers.push(['List-Id', `${random.pick(['Team news', 'Product updates', 'Customer newsletter'])} <news.${random.pick(COMPANIES)}>`]);
		headers.push(['List-Unsubscribe', `<mailto:unsubscribe@${senderDomain}?subject=unsubscribe>`]);
	}
	if (random.chance(0.05)) headers.push(['X-Priority', random.pick(['1 (Highest)', '2 (High)', '5 (Lowest)'])]);
	headers.push(['X-Mailer', random.pick(MAILERS)], ['MIME-Version', '1.0']);

	// The text everyone reads.
	const firstName = to.replace(/^.*</, '').replace(/@.*/, '').replace(/^./, (c) => c.toUpperCase());
	let text: string;
	if (language) {
		const lines = [language.greeting, ''];
		const target = random.logUniform(300, 8000);
		let bytes = 0;
		while (bytes < target) {
			const sentence = random.pick(language.sentences);
			lines.push(sentence);
			bytes += sentence.length * 2;
			if (random.chance(0.2)) lines.push('');
		}
		lines.push('', language.closing, sender.name);
		text = lines.join('\n').replace(/\n{3,}/g, '\n\n') + '\n';
	} else {
		const target = random.logUniform(1500, kind === 'plain' ? 48_000 : 20_000);
		let bodyText = poolText(random, target);
		if (unicode) {
			const lines = bodyText.split('\n');
			for (let i = random.int(0, 4); i < lines.length; i += random.int(2, 8)) if (lines[i]) lines[i] += ` ${random.pick(UNICODE_WORDS)}`;
			bodyText = lines.join('\n');
		}
		const signature = `${random.pick(CLOSINGS)}\n${sender.name || sender.address}\n`;
		let quoted = '';
		if (reply) {
			const original = poolText(random, random.int(200, 1500)).trimEnd().split('\n').map((l) => (l ? `> ${l}` : '>'));
			quoted = `\nOn ${formatDate(new Date(date.getTime() - random.int(600, 300_000) * 1000), tz)}, someone wrote:\n${original.join('\n')}\n`;
		}
		text = `${fill(random.pick(GREETINGS), random, firstName)}\n\n${bodyText}${signature}${quoted}`;
	}

	const charset = lang ?? (/[^\x00-\x7f]/.test(text) ? 'utf-8' : 'us-ascii');
	const plainEncoding = (): TransferEncoding => {
		if (charset === 'iso-2022-jp') return '7bit';
		const r = random.float();
		if (charset === 'us-ascii') return r < 0.6 ? '7bit' : r < 0.85 ? 'quoted-printable' : 'base64';
		return r < 0.25 ? '8bit' : r < 0.75 ? 'quoted-printable' : 'base64';
	};
	const plainLabel = lang ? label : charset === 'us-ascii' && random.chance(0.5) ? 'us-ascii' : random.pick(['utf-8', 'UTF-8']);
	const plain = () => textPart('plain', text, charset, plainLabel, plainEncoding());
	const html = (cid?: string) => textPart('html', htmlOf(text, cid), 'utf-8', 'utf-8', random.chance(0.75) ? 'quoted-printable' : 'base64');
	const boundary = (tag: string) => `----=_${tag}_${random.hex(6)}.${random.hex(4)}`;
	const alternative = (cid?: string) => multipart('alternative', boundary('Alt'), [plain(), html(cid)], false);

	const attachments: GeneratedAttachment[] = [];
	let top: Part;
	switch (kind) {
		case 'plain':
		case 'charset':
			top = plain();
			break;
		case 'alternative':
			top = alternative();
			top.body.unshift(`This is a multi-part message in MIME format.${CRLF}${CRLF}`);
			break;
		case 'related': {
			const cid = `part1.${random.hex(4)}.${random.hex(4)}@${senderDomain}`;
			const image: Part = {
				headers: [['Content-Type', 'image/png; name="logo.png"'], ['Content-Disposition', 'inline; filename="logo.png"'], ['Content-ID', `<${cid}>`], ['Content-Transfer-Encoding', 'base64']],
				body: [base64Lines(inlinePng(new Random(seed, index, 1)))],
			};
			top = multipart('related', boundary('Rel'), [alternative(cid), image], true, '; type="multipart/alternative"');
			break;
		}
		default: {
			const children: Part[] = [random.chance(0.5) ? alternative() : plain()];
			const n = random.chance(0.65) ? 1 : random.chance(0.7) ? 2 : 3;
			for (let k = 0; k < n; k++) {
				const type = random.pick(ATTACHMENT_TYPES);
				const size = exactMax && k === 0 ? maxAttachment : random.logUniform(Math.min(10 * KIB, maxAttachment), maxAttachment);
				const content = new Random(seed, index, 2 + k); // its own stream: the size does not move later draws
				const data = type.ext === 'csv' ? csvContent(content, size) : binaryContent(content, size, type.ext);
				const filename = `${random.pick(ATTACHMENT_NAMES)}.${type.ext}`;
				attachments.push({ filename, contentType: type.type, size, sha256: crypto.createHash('sha256').update(data).digest('hex') });
				const ascii = isAscii(filename);
				children.push({
					headers: [
						['Content-Type', `${type.type}; name="${ascii ? filename : encodedWords(filename, 'utf-8', 'UTF-8', 'B').replace(/ /g, '')}"`],
						['Content-Disposition', `attachment; ${ascii ? `filename="${filename}"` : rfc2231('filename', filename)}; size=${size}`],
						['Content-Transfer-Encoding', 'base64'],
					],
					body: [base64Lines(data)],
				});
			}
			top = multipart('mixed', boundary('Mix'), children, true);
		}
	}

	// a catch-all delivery: the mail server notes the mailbox and the original recipient on top
	if (envelopeTo && opts.catchAll) headers.splice(1, 0, ['Delivered-To', opts.catchAll.mailbox], ['X-Original-To', envelopeTo]);
	const chunks = serialize({ headers: [...headers, ...top.headers], body: top.body });
	const raw = Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'latin1') : c)));
	return { index, raw, messageId, date, flags, kind, subject, from: sender.address, attachments, charset, text, ...(envelopeTo ? { envelopeTo } : {}) };
}

/**
 * Everything a parser has to survive, in one message: a broken encoded-word (bad base64, unknown
 * charset, invalid Q, unterminated), an unbalanced quote in From, a header line without a colon,
 * raw 8-bit header bytes (Latin-1 and UTF-8), a duplicate Content-Type, bad quoted-printable, bad
 * base64, an inner multipart that is never closed and no closing outer boundary.
 */
function malformed(seed: number, index: number, domain: string, to: string, date: Date, tz: number, flags: string[]): GeneratedMessage {
	const messageId = `<malformed-${seed}@${domain}>`;
	const outer = `=_outer_${seed}`;
	const inner = `=_inner_${seed}`;
	const subject = 'Broken =?UTF-8?B?w7xiZXI*?= =?x-no-such-charset?Q?caf=E9?= =?ISO-8859-1?Q?Gr=FC=ZZe?= =?utf-8?B?dW50ZXJtaW5hdGVk';
	const lines = (...l: string[]) => Buffer.from(l.join(CRLF) + CRLF, 'latin1');
	const raw = Buffer.concat([
		lines(
			`Return-Path: <broken.sender@${domain}>`,
			`Date: ${formatDate(date, tz)}`,
			`From: "Broken Sender <broken.sender@${domain}>`,
			`To: ${to}`,
			`Subject: ${subject}`,
			`Message-ID: ${messageId}`,
			'MIME-Version: 1.0',
			'X-Mailer: Malformed mail generator',
			'This header line has no colon',
		),
		Buffer.concat([Buffer.from('X-Raw-Latin1: Gr', 'latin1'), Buffer.from([0xfc, 0xdf]), Buffer.from('e aus K', 'latin1'), Buffer.from([0xf6]), Buffer.from(`ln${CRLF}`, 'latin1')]),
		Buffer.from(`X-Raw-UTF8: Grüße — 日本語${CRLF}`, 'utf8'),
		lines(
			`Content-Type: multipart/mixed; boundary="${outer}"`,
			'Content-Type: text/plain; charset=us-ascii',
			'Content-Transfer-Encoding: 7bit',
			'',
			'This is the preamble.',
			`--${outer}`,
			'Content-Type: text/plain; charset=utf-8',
			'Content-Transfer-Encoding: quoted-printable',
			'',
			'Bad quoted-printable: =G7 =4 =\u00e9 and lower-case =e2=82=ac,',
			'a lone = sign, and a soft break at the very end=',
			`--${outer}`,
			`Content-Type: multipart/alternative; boundary="${inner}"`,
			'',
			`--${inner}`,
			'Content-Type: text/plain; charset=utf-8',
			'Content-Transfer-Encoding: base64',
			'',
			'SGVsbG8g!!d29y*bGQ=Zm9v',
			'====',
			`--${inner}`,
			'Content-Type: text/html; charset=utf-8',
			'',
			'<p>The inner multipart is never closed',
			`--${outer}`,
			'Content-Type: application/pdf; name="truncated.pdf',
			'Content-Disposition: attachment; filename="truncated.pdf',
			'Content-Transfer-Encoding: base64',
			'',
			'JVBERi0xLjcKJeLjz9MK',
			'JVBERi0xLjcK=JeLjz9',
		),
	]);
	return { index, raw, messageId, date, flags, kind: 'malformed', subject, from: `broken.sender@${domain}`, attachments: [], charset: 'us-ascii', text: '' };
}

/** Messages startIndex .. startIndex+count-1 of the seed, one at a time. */
export function* generateMessages(opts: GenerateOptions): Generator<GeneratedMessage> {
	const seed = opts.seed ?? 42;
	const start = opts.startIndex ?? 0;
	for (let i = start; i < start + opts.count; i++) yield generateMessage(seed, i, opts);
}
