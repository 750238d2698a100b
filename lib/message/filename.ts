/** File names for attachments: cleaned for use as a file name, generated when the message gives none. */

const EXTENSIONS: Record<string, string> = {
	'application/pdf': 'pdf',
	'application/zip': 'zip',
	'application/gzip': 'gz',
	'application/x-7z-compressed': '7z',
	'application/json': 'json',
	'application/xml': 'xml',
	'application/msword': 'doc',
	'application/vnd.ms-excel': 'xls',
	'application/vnd.ms-powerpoint': 'ppt',
	'application/vnd.ms-outlook': 'msg',
	'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
	'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
	'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
	'application/vnd.oasis.opendocument.text': 'odt',
	'application/vnd.oasis.opendocument.spreadsheet': 'ods',
	'application/pkcs7-signature': 'p7s',
	'application/x-pkcs7-signature': 'p7s',
	'application/pkcs7-mime': 'p7m',
	'application/pgp-signature': 'asc',
	'application/pgp-encrypted': 'asc',
	'application/ics': 'ics',
	'application/octet-stream': 'bin',
	'image/jpeg': 'jpg',
	'image/jpg': 'jpg',
	'image/pjpeg': 'jpg',
	'image/png': 'png',
	'image/gif': 'gif',
	'image/webp': 'webp',
	'image/bmp': 'bmp',
	'image/tiff': 'tif',
	'image/svg+xml': 'svg',
	'image/heic': 'heic',
	'audio/mpeg': 'mp3',
	'audio/wav': 'wav',
	'video/mp4': 'mp4',
	'text/plain': 'txt',
	'text/html': 'html',
	'text/csv': 'csv',
	'text/calendar': 'ics',
	'text/vcard': 'vcf',
	'text/x-vcard': 'vcf',
	'text/xml': 'xml',
	'text/rfc822-headers': 'txt',
	'message/rfc822': 'eml',
	'message/global': 'eml',
	'message/delivery-status': 'txt',
	'message/global-delivery-status': 'txt',
	'message/disposition-notification': 'txt',
};

/** The usual extension for a content type (without the dot); 'bin' when unknown. */
export function extensionFor(contentType: string): string {
	const type = contentType.toLowerCase().split(';')[0].trim();
	const known = EXTENSIONS[type];
	if (known) return known;
	const subtype = /^[a-z]+\/(?:x-)?([a-z0-9]{1,5})$/.exec(type);
	return subtype ? subtype[1] : 'bin';
}

/** A name for an attachment that has none: by what it is, numbered by its place among the attachments. */
export function generatedName(contentType: string, position: number): string {
	const type = contentType.toLowerCase();
	const ext = extensionFor(type);
	if (type === 'message/rfc822' || type === 'message/global') return `message-${position}.${ext}`;
	if (/delivery-status$/.test(type)) return `delivery-status-${position}.${ext}`;
	if (type === 'message/disposition-notification') return `disposition-notification-${position}.${ext}`;
	if (type.startsWith('image/')) return `image-${position}.${ext}`;
	return `attachment-${position}.${ext}`;
}

/**
 * Bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and its kin): in a file name they show
 * "invoice\u202Efdp.exe" as "invoiceexe.pdf", disguising what it is.
 */
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Whether a file name holds bidirectional controls (removed by cleanFilename). */
export function hasBidiControls(name: string): boolean {
	return name.replace(BIDI_CONTROLS, '') !== name;
}

/** A file name safe to hand on: the last part of a path only, without control characters (bidirectional ones too) or surrounding blanks and dots. */
export function cleanFilename(name: string): string {
	return (
		(name.split(/[/\\]/).pop() ?? '')
			.replace(BIDI_CONTROLS, '')
			// eslint-disable-next-line no-control-regex
			.replace(/[\u0000-\u001f\u007f]+/g, ' ')
			.replace(/\s+/g, ' ')
			.replace(/^[\s.]+|[\s.]+$/g, '')
			.slice(0, 255)
	);
}
