/**
 * UID sets as sorted, non-overlapping, non-adjacent ranges, written the IMAP way ("1:5,7,9:12").
 * The compact text form keeps the persisted watcher state small however many UIDs it covers.
 */
export type UidRanges = Array<[number, number]>;

export function parseUidSet(text: string | undefined): UidRanges {
	if (!text) return [];
	const ranges: UidRanges = [];
	for (const part of text.split(',')) {
		const m = /^(\d+)(?::(\d+))?$/.exec(part.trim());
		if (!m) continue;
		const a = Number(m[1]);
		const b = m[2] === undefined ? a : Number(m[2]);
		if (a < 1 || b < 1) continue;
		ranges.push([Math.min(a, b), Math.max(a, b)]);
	}
	return normalize(ranges);
}

export function formatUidSet(ranges: UidRanges): string {
	return ranges.map(([a, b]) => (a === b ? String(a) : `${a}:${b}`)).join(',');
}

/** The ranges of a list of UIDs (any order, duplicates allowed). */
export function rangesOf(uids: Iterable<number>): UidRanges {
	const sorted = [...new Set(uids)].filter((u) => Number.isInteger(u) && u > 0).sort((a, b) => a - b);
	const ranges: UidRanges = [];
	for (const uid of sorted) {
		const last = ranges[ranges.length - 1];
		if (last && last[1] + 1 === uid) last[1] = uid;
		else ranges.push([uid, uid]);
	}
	return ranges;
}

/** "1:3,7" for [1, 2, 3, 7]. */
export function uidSetOf(uids: Iterable<number>): string {
	return formatUidSet(rangesOf(uids));
}

function normalize(ranges: UidRanges): UidRanges {
	const sorted = ranges.map(([a, b]) => [a, b] as [number, number]).sort((x, y) => x[0] - y[0]);
	const out: UidRanges = [];
	for (const r of sorted) {
		const last = out[out.length - 1];
		if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
		else out.push(r);
	}
	return out;
}
