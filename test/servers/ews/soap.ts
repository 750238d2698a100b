/** The SOAP side of the local EWS endpoint: namespaces, response codes and faults, the server version, envelopes and response messages. */
import type { Item } from './store';
import { child, el, esc, kids, type XmlElement } from './xml';

// --- namespaces -------------------------------------------------------------------------------

export const NS = {
	soap: 'http://schemas.xmlsoap.org/soap/envelope/',
	messages: 'http://schemas.microsoft.com/exchange/services/2006/messages',
	types: 'http://schemas.microsoft.com/exchange/services/2006/types',
	errors: 'http://schemas.microsoft.com/exchange/services/2006/errors',
	xsi: 'http://www.w3.org/2001/XMLSchema-instance',
	xsd: 'http://www.w3.org/2001/XMLSchema',
} as const;

/** MessageText for the ResponseCodes this server gives, as Exchange words them. */
export const MESSAGE_TEXT: Record<string, string> = {
	ErrorAccessDenied: 'Access is denied. Check credentials and try again.',
	ErrorImpersonateUserDenied: 'The account does not have permission to impersonate the requested user.',
	ErrorNonExistentMailbox: 'The SMTP address has no mailbox associated with it.',
	ErrorMissingEmailAddress: 'When making a request as an account that does not have a mailbox, you must specify the mailbox primary SMTP address for any distinguished folder Ids.',
	ErrorItemNotFound: 'The specified object was not found in the store.',
	ErrorFolderNotFound: 'The specified folder could not be found in the store.',
	ErrorInvalidIdMalformed: 'Id is malformed.',
	ErrorInvalidSyncStateData: 'Synchronization state data is corrupt or otherwise invalid.',
	ErrorServerBusy: 'The server cannot service this request right now. Try again later.',
	ErrorFolderExists: 'A folder with the specified name already exists.',
	ErrorIrresolvableConflict: 'The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.',
	ErrorChangeKeyRequiredForWriteOperations: 'The change key is required for this operation.',
	ErrorMessageDispositionRequired: 'MessageDisposition attribute is required.',
	ErrorInvalidRequest: 'The request is invalid.',
	ErrorSchemaValidation: 'The request failed schema validation.',
	ErrorInvalidServerVersion: 'The specified server version is invalid.',
	ErrorInvalidPropertySet: 'The property set is invalid for this operation.',
	ErrorMoveCopyFailed: 'The move or copy operation failed.',
	ErrorInvalidOperation: 'The operation is invalid.',
};

export class EwsFault extends Error {
	constructor(
		readonly code: string,
		message = MESSAGE_TEXT[code] ?? code,
		readonly messageXml = '',
	) {
		super(message);
	}
}

/** An error answered in the operation's response message (not a fault). */
export class EwsError extends Error {
	constructor(
		readonly code: string,
		message = MESSAGE_TEXT[code] ?? code,
	) {
		super(message);
	}
}

/** RequestServerVersion values Exchange knows. */
export const REQUEST_VERSIONS = new Set([
	'Exchange2007',
	'Exchange2007_SP1',
	'Exchange2009',
	'Exchange2010',
	'Exchange2010_SP1',
	'Exchange2010_SP2',
	'Exchange2013',
	'Exchange2013_SP1',
	'Exchange2015',
	'Exchange2016',
	'Exchange2019',
	'V2015_10_05',
	'V2016_01_06',
	'V2016_04_13',
	'V2016_07_13',
	'V2016_10_10',
	'V2017_01_07',
	'V2017_04_14',
	'V2017_07_11',
	'V2017_10_09',
	'V2018_01_08',
]);

/** ServerVersionInfo attributes for a version string (build numbers of real releases). */
export function serverVersionInfo(version: string): { MajorVersion: number; MinorVersion: number; MajorBuildNumber: number; MinorBuildNumber: number; Version: string } {
	const build = (major: number, minor: number, majorBuild: number, minorBuild: number) => ({ MajorVersion: major, MinorVersion: minor, MajorBuildNumber: majorBuild, MinorBuildNumber: minorBuild, Version: version });
	if (version.startsWith('Exchange2007')) return build(8, 3, 83, 6);
	if (version.startsWith('Exchange2010')) return build(14, 3, 123, 3);
	if (version.startsWith('Exchange2013')) return build(15, 0, 1497, 2);
	if (version === 'Exchange2016') return build(15, 1, 2507, 6);
	if (version === 'Exchange2019') return build(15, 2, 1118, 7);
	return build(15, 20, 7452, 28);
}

export type Shape = { base: 'IdOnly' | 'Default' | 'AllProperties'; fields: Set<string>; mime: boolean };

export interface ResponseMessage {
	code: string;
	xml: string;
}

export function errorMessage(name: string, error: EwsError, empty = ''): ResponseMessage {
	return {
		code: error.code,
		xml: `<m:${name} ResponseClass="Error"><m:MessageText>${esc(error.message)}</m:MessageText><m:ResponseCode>${error.code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>${empty}</m:${name}>`,
	};
}

export function changeKey(version: number, prefix = 'CQ'): string {
	return Buffer.from(`${prefix}AAAB${String(version).padStart(6, '0')}`).toString('base64');
}

export function itemIdXml(item: Item): string {
	return el('t:ItemId', undefined, { Id: item.id, ChangeKey: changeKey(item.version) });
}

export function readShape(shapeEl: XmlElement | undefined): Shape {
	const base = (child(shapeEl, 'BaseShape')?.text.trim() ?? 'Default') as Shape['base'];
	if (base !== 'IdOnly' && base !== 'Default' && base !== 'AllProperties') throw new EwsFault('ErrorSchemaValidation', `The request failed schema validation: The 'BaseShape' element is invalid - The value '${String(base)}' is invalid according to its datatype.`);
	const fields = new Set(kids(child(shapeEl, 'AdditionalProperties'), 'FieldURI').map((f) => f.attrs.FieldURI));
	const mime = child(shapeEl, 'IncludeMimeContent')?.text.trim() === 'true';
	return { base, fields, mime };
}

export function headerValue(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value[0] : value;
}

function versionHeaderXml(info: ReturnType<typeof serverVersionInfo>): string {
	return `<t:ServerVersionInfo MajorVersion="${info.MajorVersion}" MinorVersion="${info.MinorVersion}" MajorBuildNumber="${info.MajorBuildNumber}" MinorBuildNumber="${info.MinorBuildNumber}" Version="${esc(info.Version)}" xmlns:t="${NS.types}" />`;
}

export function envelopeXml(info: ReturnType<typeof serverVersionInfo>, body: string): string {
	return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${NS.soap}" xmlns:xsi="${NS.xsi}" xmlns:xsd="${NS.xsd}"><soap:Header>${versionHeaderXml(info)}</soap:Header><soap:Body>${body}</soap:Body></soap:Envelope>`;
}

/** A SOAP fault as Exchange sends it (HTTP 500): faultcode in the types namespace, details in the errors namespace. */
export function faultXml(code: string, message: string, messageXml = '', info?: ReturnType<typeof serverVersionInfo>): string {
	const header = info ? `<s:Header>${versionHeaderXml(info)}</s:Header>` : '';
	return (
		`<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="${NS.soap}">${header}<s:Body><s:Fault>` +
		`<faultcode xmlns:a="${NS.types}">a:${code}</faultcode><faultstring xml:lang="en-US">${esc(message)}</faultstring>` +
		`<detail><e:ResponseCode xmlns:e="${NS.errors}">${code}</e:ResponseCode><e:Message xmlns:e="${NS.errors}">${esc(message)}</e:Message>${messageXml}</detail>` +
		`</s:Fault></s:Body></s:Envelope>`
	);
}
