/** The machine-readable part of a delivery status notification (RFC 3464, message/delivery-status). */

export interface BounceRecipient {
	/** Final-Recipient (or Original-Recipient), without the `rfc822;` type. */
	recipient: string;
	/** failed, delayed, delivered, relayed or expanded. */
	action: string | null;
	/** The enhanced status code, e.g. 5.1.1. */
	status: string | null;
	diagnosticCode: string | null;
}

export interface BounceReport {
	reportingMta: string | null;
	recipients: BounceRecipient[];
	/** The recipients whose action is "failed". */
	failedRecipients: string[];
}

function fieldsOf(block: string): Map<string, string> {
	const fields = new Map<string, string>();
	for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
		const colon = line.indexOf(':');
		if (colon <= 0) continue;
		const name = line.slice(0, colon).trim().toLowerCase();
		if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
	}
	return fields;
}

/** Strips the address type: `rfc822; bob@example.com` -> `bob@example.com`. */
function typedAddress(value: string | undefined): string | null {
	if (!value) return null;
	const semi = value.indexOf(';');
	const address = (semi >= 0 ? value.slice(semi + 1) : value).trim().replace(/^<|>$/g, '');
	return address || null;
}

/** Reads the per-message and per-recipient fields; never throws. */
export function parseDeliveryStatus(text: string): BounceReport {
	const blocks = text.split(/\r?\n[ \t]*\r?\n/).filter((b) => b.trim());
	const first = blocks.length ? fieldsOf(blocks[0]) : new Map<string, string>();
	const reportingMta = typedAddress(first.get('reporting-mta'));
	const recipients: BounceRecipient[] = [];
	for (const block of blocks) {
		const fields = fieldsOf(block);
		const recipient = typedAddress(fields.get('final-recipient')) ?? typedAddress(fields.get('original-recipient'));
		if (!recipient) continue;
		recipients.push({
			recipient,
			action: fields.get('action')?.toLowerCase() ?? null,
			status: /\d\.\d{1,3}\.\d{1,3}/.exec(fields.get('status') ?? '')?.[0] ?? null,
			diagnosticCode: fields.get('diagnostic-code')?.replace(/^[^;]*;\s*/, '') ?? null,
		});
	}
	return { reportingMta, recipients, failedRecipients: recipients.filter((r) => r.action === 'failed').map((r) => r.recipient) };
}
