/**
 * An attachment's type as it is, not as its sender says: the Content-Type header is the sender's
 * word, and a program sent as "image/jpeg" or named "invoice.pdf.exe" is what a workflow must not
 * take for a picture or a PDF. The type follows the content where its first bytes say what it is
 * (the magic numbers of programs, archives, PDF, Office and common images), else the file name's
 * extension where that names a program or script Windows runs (its type from mime-types). A generic
 * type (application/octet-stream) is no claim and stays, unless the content is a program. Mail
 * whose types agree is left exactly as it was; where the type changes, the caller says so.
 *
 * Written here rather than with `file-type`: that package is ESM only, which this CommonJS package
 * cannot load on the Node 20 versions it supports; the few signatures that matter for a mail
 * attachment fit in a table.
 */
import { lookup } from 'mime-types';

/** How many first bytes of the content sniffing needs. */
export const SNIFF_BYTES = 16;

interface Signature {
	bytes: number[];
	type: string;
	/** Declared types that are the same kind of file (a container format's specific types). */
	family?: ReadonlySet<string>;
	/** In words, for the warning. */
	what: string;
	/** A program: named even when the sender declared no type (application/octet-stream). */
	program?: boolean;
}

const ZIP_BASED = new Set([
	'application/zip',
	'application/x-zip-compressed',
	'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
	'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
	'application/vnd.openxmlformats-officedocument.presentationml.presentation',
	'application/vnd.oasis.opendocument.text',
	'application/vnd.oasis.opendocument.spreadsheet',
	'application/vnd.oasis.opendocument.presentation',
	'application/epub+zip',
	'application/java-archive',
	'application/vnd.android.package-archive',
	'application/vnd.ms-excel.sheet.macroenabled.12',
	'application/vnd.ms-word.document.macroenabled.12',
	'application/vnd.ms-xpsdocument',
	'application/oxps',
]);
const OLE_BASED = new Set(['application/msword', 'application/vnd.ms-excel', 'application/vnd.ms-powerpoint', 'application/vnd.ms-outlook', 'application/x-msi', 'application/vnd.visio', 'application/x-ole-storage']);
const EXECUTABLES = new Set(['application/x-msdownload', 'application/x-msdos-program', 'application/vnd.microsoft.portable-executable', 'application/x-dosexec']);
const JPEG = new Set(['image/jpeg', 'image/jpg', 'image/pjpeg']);

const bytes = (text: string): number[] => [...Buffer.from(text, 'latin1')];

const SIGNATURES: Signature[] = [
	{ bytes: bytes('MZ'), type: 'application/x-msdownload', family: EXECUTABLES, what: 'a Windows program', program: true },
	{ bytes: bytes('\x7fELF'), type: 'application/x-executable', what: 'a Linux program', program: true },
	{ bytes: [0xcf, 0xfa, 0xed, 0xfe], type: 'application/x-mach-binary', what: 'a macOS program', program: true },
	{ bytes: bytes('%PDF-'), type: 'application/pdf', family: new Set(['application/pdf', 'application/x-pdf']), what: 'a PDF document' },
	{ bytes: bytes('PK\x03\x04'), type: 'application/zip', family: ZIP_BASED, what: 'a ZIP archive' },
	{ bytes: [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], type: 'application/x-ole-storage', family: OLE_BASED, what: 'an Office (OLE) file' },
	{ bytes: bytes('Rar!\x1a\x07'), type: 'application/vnd.rar', family: new Set(['application/vnd.rar', 'application/x-rar-compressed', 'application/x-rar']), what: 'a RAR archive' },
	{ bytes: bytes('7z\xbc\xaf\x27\x1c'), type: 'application/x-7z-compressed', what: 'a 7-Zip archive' },
	{ bytes: [0x1f, 0x8b], type: 'application/gzip', family: new Set(['application/gzip', 'application/x-gzip', 'application/x-tar', 'application/x-compressed-tar']), what: 'a gzip file' },
	{ bytes: bytes('\x89PNG\r\n\x1a\n'), type: 'image/png', what: 'a PNG image' },
	{ bytes: [0xff, 0xd8, 0xff], type: 'image/jpeg', family: JPEG, what: 'a JPEG image' },
	{ bytes: bytes('GIF87a'), type: 'image/gif', what: 'a GIF image' },
	{ bytes: bytes('GIF89a'), type: 'image/gif', what: 'a GIF image' },
];

/** File name endings Windows runs as a program or script, whatever the sender declared. */
const RUNNABLE = new Set(['exe', 'com', 'scr', 'pif', 'bat', 'cmd', 'msi', 'msp', 'dll', 'cpl', 'js', 'jse', 'vbs', 'vbe', 'wsf', 'wsh', 'ps1', 'psm1', 'hta', 'lnk', 'jar', 'reg', 'iso', 'img', 'vhd', 'vhdx', 'appx', 'msix', 'application']);

/** What the first bytes say the content is, if they match a known signature. */
export function sniff(head: Buffer | undefined): Signature | undefined {
	if (!head?.length) return undefined;
	return SIGNATURES.find((s) => s.bytes.length <= head.length && s.bytes.every((b, i) => head[i] === b));
}

function extensionOf(filename: string): string {
	const dot = filename.lastIndexOf('.');
	return dot > 0 && dot < filename.length - 1 ? filename.slice(dot + 1).toLowerCase() : '';
}

export interface TypeDecision {
	contentType: string;
	/** Set when the type differs from the declared one for a reason the user should know. */
	warning?: string;
}

/**
 * The attachment's type: the content's where its first bytes name another kind of file than the
 * sender declared (or a program declared as generic), else the extension's where the name ends in a
 * runnable type the sender declared as something specific and harmless, else the declared type.
 */
export function attachmentType(declared: string, filename: string, head: Buffer | undefined): TypeDecision {
	const claimed = (declared || '').split(';')[0].trim().toLowerCase() || 'application/octet-stream';
	const ext = extensionOf(filename);
	const byName = ext ? lookup(ext) || undefined : undefined;
	const content = sniff(head);
	const keeps = "(declaredContentType keeps the sender's)";
	if (content) {
		if (content.type === claimed || content.family?.has(claimed)) return { contentType: declared };
		// a generic type is no claim: it stays, unless the content is a program
		if (claimed === 'application/octet-stream' && !content.program) return { contentType: declared };
		return { contentType: content.type, warning: `declared ${claimed}, but its content is ${content.what}: contentType is ${content.type} ${keeps}` };
	}
	if (ext && RUNNABLE.has(ext)) {
		const runnable = byName ?? 'application/x-msdownload';
		if (runnable !== claimed && claimed !== 'application/octet-stream' && !EXECUTABLES.has(claimed)) {
			return { contentType: runnable, warning: `declared ${claimed}, but the name ends in .${ext}, which runs as a program or script: contentType is ${runnable} ${keeps}` };
		}
	}
	return { contentType: declared || claimed };
}
