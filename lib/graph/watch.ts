/**
 * The Graph trigger's watcher: the folder-sync watcher of the delivery core
 * (lib/delivery/folder-sync.ts) over Microsoft Graph's delta query on a folder's messages. The
 * position kept per folder is the link Graph gave last (a nextLink within a round, the deltaLink
 * after it), followed exactly as given.
 *
 * Graph's delta does not say whether a message was created or changed: every message it reports
 * is `seen`, and the delivery core takes it for new only if it is not pending or finished and Graph
 * received it after the last good sync (less a margin): a flag set or a category added to older
 * mail starts no run. A link Graph no longer accepts (410 Gone) makes the folder sync from the
 * start, compared with what is known as after any reset.
 *
 * Graph's message has no size property in v1.0: with a size limit, the size is read with the
 * message (the MAPI property PR_MESSAGE_SIZE, 0x0E08) before its MIME content, and a message over
 * the limit is skipped without downloading it. Without one, a message taken from a delta page is
 * read by its MIME content alone (its properties came with the page).
 */
import { isItemGone, isResyncRequired, MailboxError } from '../errors';
import { FolderSyncWatcher, type FolderSyncAfterProcessing, type FolderSyncEvent, type FolderSyncFetched, type FolderSyncMessage, type FolderSyncOptions, type FolderSyncSession, type FolderSyncStats } from '../delivery/folder-sync';
import { type GraphClient, type GraphItemResult } from './client';

/** PR_MESSAGE_SIZE as a single-value extended property. */
const SIZE_PROPERTY = 'Integer 0x0E08';
/**
 * What a delta page asks of each message: enough to decide without downloading it, and the
 * properties an item carries, so that without a size limit a message needs one request more (its
 * MIME content), not two.
 */
export const DELTA_SELECT = ['isRead', 'receivedDateTime', 'internetMessageId', 'conversationId', 'categories', 'webLink', 'flag'];
const MESSAGE_SELECT = ['isRead', 'receivedDateTime', 'internetMessageId', 'conversationId', 'categories', 'webLink', 'parentFolderId', 'flag'];
/** Messages whose delta properties a session keeps until they are read (the oldest are dropped beyond). */
const MAX_KEPT = 5000;

/** A message as the trigger reads it: Graph's properties and the MIME content. */
export interface GraphFetched extends FolderSyncFetched {
	conversationId?: string;
	categories: string[];
	webLink?: string;
	/** The follow-up flag: notFlagged, flagged or complete. */
	flagStatus?: string;
}

export type GraphAfterProcessing = FolderSyncAfterProcessing;
export type GraphWatchedMessage = FolderSyncMessage<GraphFetched>;
export type GraphWatchEvent = FolderSyncEvent<GraphWatchedMessage>;
export type GraphWatchStats = FolderSyncStats;

export interface GraphWatcherOptions extends Omit<FolderSyncOptions<GraphFetched>, 'connect'> {
	/** A client; called again after a poll failed (a new token, new connections). */
	connect: () => Promise<GraphClient>;
}

/** Each message's own failure in its place (undefined: done). */
const failures = (results: GraphItemResult[]): Array<MailboxError | undefined> => results.map((r) => (r.ok ? undefined : (r.error ?? new MailboxError('SERVER', `Microsoft Graph did not act on message ${r.id}.`, { step: 'command' }))));

const text = (value: unknown): string | undefined => (typeof value === 'string' && value ? value : undefined);

/** The size Graph gave in the message's single-value extended properties, if any. */
function sizeOf(message: Record<string, unknown>): number | undefined {
	const list = message.singleValueExtendedProperties;
	if (!Array.isArray(list)) return undefined;
	// Graph writes the tag as it likes ("Integer 0xe08")
	const entry = list.find((p: { id?: unknown }) => typeof p?.id === 'string' && /^integer\s+0x0*e08$/i.test(p.id.trim())) as { value?: unknown } | undefined;
	const size = Number(entry?.value);
	return Number.isFinite(size) && size >= 0 ? size : undefined;
}

type GraphProperties = Omit<GraphFetched, 'source' | 'size'>;

/** A message's properties as Graph gives them (a message, or an entry of a delta page). */
function propertiesOf(itemId: string, message: Record<string, unknown>): GraphProperties {
	const received = message.receivedDateTime instanceof Date ? message.receivedDateTime : text(message.receivedDateTime) ? new Date(message.receivedDateTime as string) : undefined;
	return {
		itemId,
		messageId: text(message.internetMessageId),
		isRead: typeof message.isRead === 'boolean' ? message.isRead : undefined,
		received: received && !Number.isNaN(received.getTime()) ? received : undefined,
		conversationId: text(message.conversationId),
		categories: Array.isArray(message.categories) ? message.categories.filter((c): c is string => typeof c === 'string') : [],
		webLink: text(message.webLink),
		flagStatus: text((message.flag as { flagStatus?: unknown } | undefined)?.flagStatus),
	};
}

/**
 * A message's properties (with its size) and, unless it is over `maxBytes`, its MIME content.
 * `known`: its properties from a delta page; without a size limit only the MIME content is read.
 */
export async function fetchGraphMessage(client: GraphClient, itemId: string, maxBytes?: number, known?: GraphProperties): Promise<GraphFetched> {
	if (known && !maxBytes) {
		const source = await client.getMime(itemId);
		return { ...known, size: source.length, source };
	}
	const message = await client.getMessage(itemId, MESSAGE_SELECT, { expand: `singleValueExtendedProperties($filter=id eq '${SIZE_PROPERTY}')` });
	const size = sizeOf(message);
	const info = propertiesOf(itemId, message);
	if (maxBytes && size !== undefined && size > maxBytes) return { ...info, size, source: Buffer.alloc(0) };
	const source = await client.getMime(itemId);
	return { ...info, size: size ?? source.length, source };
}

/** A Graph client as the folder-sync watcher uses it; failures come out as MailboxErrors. */
export function graphSyncSession(client: GraphClient): FolderSyncSession<GraphFetched> {
	// the properties of messages on the delta pages, until each is read (a message read later, e.g. after a restart, is asked for them)
	const kept = new Map<string, GraphProperties>();
	return {
		resolveFolder: (path) => client.resolveFolder(path),
		syncPage: async (folder, syncState, max) => {
			const page = await client.deltaPage(folder.id, syncState, { select: DELTA_SELECT, maxPageSize: max });
			const link = page.nextLink ?? page.deltaLink;
			if (!link) throw client.toMailboxError(new Error('Graph answered a delta page without a next or delta link'), 'delta');
			for (const e of page.entries) {
				kept.delete(e.id);
				if (!e.removed) kept.set(e.id, propertiesOf(e.id, e));
			}
			for (const id of kept.keys()) {
				if (kept.size <= MAX_KEPT) break;
				kept.delete(id);
			}
			return {
				changes: page.entries.map((e) =>
					e.removed
						? { type: 'removed' as const, itemId: e.id }
						: { type: 'seen' as const, item: { itemId: e.id, messageId: e.internetMessageId, isRead: e.isRead, received: e.receivedDateTime } },
				),
				syncState: link,
				more: !!page.nextLink,
			};
		},
		fetch: (itemId, maxBytes) => {
			const known = kept.get(itemId);
			kept.delete(itemId);
			return fetchGraphMessage(client, itemId, maxBytes, known);
		},
		// one $batch for up to 20 messages, each with its own result
		markRead: async (ids) => failures(await client.markRead(ids)),
		move: async (ids, target) => failures(await client.move(ids, target.id)),
		delete: async (ids, mode) => failures(await client.delete(ids, mode)),
		close: () => client.close(),
	};
}

/**
 * The engine of the Graph trigger. Create it with the persisted state, `start()` it, persist what
 * `onState` and `onLedger` report, `stop()` it. Never throws from its background work.
 */
export class GraphWatcher extends FolderSyncWatcher<GraphFetched> {
	constructor(options: GraphWatcherOptions) {
		super(
			{ ...options, connect: async () => graphSyncSession(await options.connect()) },
			{
				label: 'Graph',
				loggerName: 'mailbox-graph',
				// Graph pages messages' delta by at most 1,000 (odata.maxpagesize)
				largestPage: 1000,
				isResync: isResyncRequired,
				isGone: isItemGone,
			},
		);
	}
}

/**
 * The newest message of a folder (by the time Exchange received it), for the editor's "Test step";
 * nothing is changed.
 */
export async function newestGraphMessage(client: GraphClient, path: string): Promise<(GraphFetched & { folderId: string }) | undefined> {
	const folder = await client.resolveFolder(path);
	const [newest] = await client.listMessages(path, { orderBy: 'receivedDateTime desc', top: 1, limit: 1, select: ['receivedDateTime'] });
	if (!newest) return undefined;
	return { ...(await fetchGraphMessage(client, newest.id)), folderId: folder.id };
}
