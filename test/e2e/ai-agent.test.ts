/**
 * The Mailbox node as a tool of n8n's AI Agent, in a real n8n 2.41.1: a workflow Manual Trigger →
 * AI Agent (Tools Agent v3.1) with the OpenAI Chat Model 1.3 (Chat Completions, and in one run the
 * node's default, the Responses API; its credential's Base URL pointed at a scripted model on
 * 127.0.0.1: test/servers/openai.ts) and three Mailbox tools
 * (the node type n8n derives from `usableAsTool`: n8n-nodes-mailbox.mailboxTool) whose parameters
 * the model fills through $fromAI(): Search, Move and Delete, against alice's mailbox in the test
 * Dovecot. The workflows run in the started n8n as the editor's "Execute workflow" runs them (POST
 * /rest/workflows/:id/run).
 *
 * What a user notices is asserted: where the messages are in Dovecot afterwards, the agent's final
 * answer, and what the model was sent: the tools with their descriptions and parameter schemas,
 * and the tool results (the found message's subject and address, the refusal naming Allow
 * Deleting). The model is no model: each answer is the scripted turn for the conversation so far.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startMailServers, type MailServers } from '../servers';
import { Conversation, offeredTools, ScriptedChatModel, type ModelRequest, type Turn } from '../servers/openai';
import { startPackagedN8n, Teardown } from './harness';
import { messageIdsIn, withImap } from './imap-folder';
import { isFinished, type N8n, type NodeTypeInfo, type StoredExecution, waitFor } from './n8n';

const root = path.resolve(__dirname, '..', '..');
const API_KEY = 'sk-mailbox-e2e-0f6c2a9d41b87e35';
const MODEL = 'gpt-4o-mini';
const START = 'Start';
const AGENT = 'AI Agent';
const CHAT_MODEL = 'OpenAI Chat Model';
// the tools' names for the model are the node names, n8n's nodeNameToToolName: "Search mail" → Search_mail
const SEARCH = { node: 'Search mail', tool: 'Search_mail' };
const MOVE = { node: 'Move mail', tool: 'Move_mail' };
const DELETE = { node: 'Delete mail', tool: 'Delete_mail' };

const INVOICE = { id: '<invoice-2026-117@fabrikam.test>', subject: 'Invoice 2026-117 from Fabrikam', from: 'billing@fabrikam.test' };
const NEWSLETTER = { id: '<weekly-48@news.example.test>', subject: 'Weekly newsletter 48', from: 'news@news.example.test' };
const LUNCH = { id: '<lunch-friday@example.test>', subject: 'Lunch on Friday?', from: 'bob@example.test' };

const ARRIVING = { id: '<invoice-2026-118@fabrikam.test>', subject: 'Invoice 2026-118 from Fabrikam', from: 'billing@fabrikam.test' };
/** The prompt of the example workflow (examples/workflows/ai-agent.json) starts so, with the message's address in it. */
const ARRIVED = /^A new email arrived in the mailbox\.\nFrom: .*\nSubject: (.*)\nIt is in folder (\S+), uid (\d+), uidValidity (\d+)\./;

const FILE_PROMPT = 'Please file the invoice from Fabrikam in my Archive folder.';
const DELETE_PROMPT = 'Delete the weekly newsletter from my inbox.';
const LUNCH_PROMPT = "Please file Bob's lunch message in my Archive folder.";

function message(m: { id: string; subject: string; from: string }): string {
	return [`From: ${m.from}`, 'To: alice@example.test', `Subject: ${m.subject}`, `Message-ID: ${m.id}`, 'Date: Sun, 06 Dec 2026 08:00:00 +0000', 'Content-Type: text/plain; charset=utf-8', '', `Hello Alice, this is "${m.subject}".`, ''].join('\r\n');
}

/** A found message as the Search tool's result shows it. */
interface Found {
	folder: string;
	uid: number;
	uidValidity: string;
	subject: string;
	messageId: string;
}

/** The messages in the latest result of a tool, or [] (an error result has none). */
function resultItems(conversation: Conversation, tool: string): Array<Record<string, unknown>> {
	const json = conversation.lastResultOf(tool)?.json;
	return Array.isArray(json) ? (json as Array<Record<string, unknown>>) : [];
}

/** Filing: search for `word` in subjects, move the found message whose subject has `pick` to Archive, say so. */
const filing = (prompt: string, what: string, word: string, pick: string): Turn[] => [
	{
		name: `search for the ${what}`,
		when: (c) => c.prompt === prompt && !c.lastResultOf(SEARCH.tool),
		reply: () => ({ toolCalls: [{ name: SEARCH.tool, arguments: { subject: word } }] }),
	},
	{
		name: `move the ${what}`,
		when: (c) => c.prompt === prompt && !!c.lastResultOf(SEARCH.tool) && !c.lastResultOf(MOVE.tool),
		reply: (c) => {
			const found = resultItems(c, SEARCH.tool).find((m) => String(m.subject).includes(pick)) as Found | undefined;
			if (!found) return { content: `I found no ${what}.` };
			return { toolCalls: [{ name: MOVE.tool, arguments: { folder: found.folder, uid: found.uid, uidValidity: String(found.uidValidity), destination: 'Archive' } }] };
		},
	},
	{
		name: 'report the move',
		when: (c) => c.prompt === prompt && !!c.lastResultOf(MOVE.tool),
		reply: (c) => {
			const [moved] = resultItems(c, MOVE.tool);
			const found = resultItems(c, SEARCH.tool).find((m) => String(m.subject).includes(pick));
			return { content: moved && !moved.error ? `I moved "${String(found?.subject)}" to ${String(moved.destination)}.` : `I could not move it: ${c.lastResultOf(MOVE.tool)?.content}` };
		},
	},
];

/**
 * The script, for all prompts: search first; once the search result is back, move the message to
 * Archive (or delete the newsletter) by the address the search gave; once that result is back,
 * answer with what the tool said. A turn acts only on what came back, as a model would.
 */
const SCRIPT: Turn[] = [
	{
		name: 'file the arrived invoice',
		when: (c) => ARRIVED.test(c.prompt) && !c.lastResultOf(MOVE.tool),
		reply: (c) => {
			const [, subject, folder, uid, uidValidity] = ARRIVED.exec(c.prompt) as RegExpExecArray;
			if (!/invoice/i.test(subject)) return { content: `"${subject}" is no invoice; I left it where it is.` };
			return { toolCalls: [{ name: MOVE.tool, arguments: { folder, uid: Number(uid), uidValidity, destination: 'Archive' } }] };
		},
	},
	{
		name: 'report the arrived invoice',
		when: (c) => ARRIVED.test(c.prompt) && !!c.lastResultOf(MOVE.tool),
		reply: (c) => {
			const [moved] = resultItems(c, MOVE.tool);
			return { content: moved && !moved.error ? `I moved "${(ARRIVED.exec(c.prompt) as RegExpExecArray)[1]}" to ${String(moved.destination)}.` : `I could not move it: ${c.lastResultOf(MOVE.tool)?.content}` };
		},
	},
	...filing(FILE_PROMPT, 'invoice', 'Fabrikam', 'Invoice'),
	...filing(LUNCH_PROMPT, 'lunch message', 'Lunch', 'Lunch'),
	{
		name: 'search for the newsletter',
		when: (c) => c.prompt === DELETE_PROMPT && !c.lastResultOf(SEARCH.tool),
		reply: () => ({ toolCalls: [{ name: SEARCH.tool, arguments: { subject: 'newsletter' } }] }),
	},
	{
		name: 'delete the newsletter',
		when: (c) => c.prompt === DELETE_PROMPT && !!c.lastResultOf(SEARCH.tool) && !c.lastResultOf(DELETE.tool),
		reply: (c) => {
			const [found] = resultItems(c, SEARCH.tool) as unknown as Found[];
			if (!found) return { content: 'I found no newsletter.' };
			return { toolCalls: [{ name: DELETE.tool, arguments: { folder: found.folder, uid: found.uid, uidValidity: String(found.uidValidity) } }] };
		},
	},
	{
		name: 'report the deletion',
		when: (c) => c.prompt === DELETE_PROMPT && !!c.lastResultOf(DELETE.tool),
		reply: (c) => {
			const [result] = resultItems(c, DELETE.tool);
			const [found] = resultItems(c, SEARCH.tool);
			if (!result || result.error) return { content: `I could not delete "${String(found?.subject)}": ${String(result?.error ?? c.lastResultOf(DELETE.tool)?.content)}` };
			return { content: `I deleted "${String(found?.subject)}"; it is in ${String(result.destination)} now.` };
		},
	},
];

describe('the Mailbox node as an AI agent\'s tool in real n8n', () => {
	const teardown = new Teardown();
	let servers: MailServers;
	let model: ScriptedChatModel;
	let n8n: N8n;
	let imapCredential: { id: string; name: string };
	let openAiCredential: { id: string; name: string };

	const idsIn = (folder: string) => withImap(servers, 'alice', (imap) => messageIdsIn(imap, folder));

	/** A $fromAI() expression, as the editor's "let the model define this parameter" writes it (with a description). */
	const fromAI = (key: string, description: string, type: 'string' | 'number') => `={{ $fromAI('${key}', \`${description}\`, '${type}') }}`;

	const tool = (name: string, index: number, parameters: Record<string, unknown>) => ({
		id: `5d0f4c1e-8a2b-4c3d-9e4f-0000000000${10 + index}`,
		name,
		type: 'n8n-nodes-mailbox.mailboxTool',
		typeVersion: 1,
		position: [200 + 200 * index, 300],
		parameters: { authentication: 'password', descriptionType: 'auto', ...parameters },
		credentials: { mailboxImapApi: imapCredential },
	});

	/** Manual Trigger → AI Agent, with the chat model and the Search, Move and Delete tools. */
	const agentWorkflow = (name: string, prompt: string, options: { allowDeleting?: boolean; responsesApi?: boolean } = {}) => {
		const { allowDeleting, responsesApi } = options;
		const address = {
			folder: fromAI('folder', 'The folder the message is in, as Search_mail returned it', 'string'),
			uid: fromAI('uid', 'The uid of the message, as Search_mail returned it', 'number'),
			uidValidity: fromAI('uidValidity', 'The uidValidity of the message, as Search_mail returned it', 'string'),
		};
		return {
			name,
			active: false,
			nodes: [
				{ id: '5d0f4c1e-8a2b-4c3d-9e4f-000000000001', name: START, type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{ id: '5d0f4c1e-8a2b-4c3d-9e4f-000000000002', name: AGENT, type: '@n8n/n8n-nodes-langchain.agent', typeVersion: 3.1, position: [300, 0], parameters: { promptType: 'define', text: prompt, options: {} } },
				{
					id: '5d0f4c1e-8a2b-4c3d-9e4f-000000000003',
					name: CHAT_MODEL,
					type: '@n8n/n8n-nodes-langchain.lmChatOpenAi',
					typeVersion: 1.3,
					position: [0, 300],
					// Chat Completions unless asked: "Use Responses API" (this version's default) off, as for most OpenAI-compatible endpoints
					parameters: { model: { __rl: true, mode: 'id', value: MODEL }, ...(responsesApi ? {} : { responsesApiEnabled: false }), options: {} },
					credentials: { openAiApi: openAiCredential },
				},
				tool(SEARCH.node, 0, {
					resource: 'message',
					operation: 'search',
					folder: 'INBOX',
					filters: { subject: fromAI('subject', 'Words the subject of the wanted messages contains', 'string') },
					returnAll: false,
					limit: 10,
					output: 'headers',
					options: {},
				}),
				tool(MOVE.node, 1, { resource: 'message', operation: 'move', ...address, destination: fromAI('destination', 'The folder to move the message to, e.g. Archive', 'string'), options: {} }),
				tool(DELETE.node, 2, { resource: 'message', operation: 'delete', ...address, options: {}, ...(allowDeleting === undefined ? {} : { allowDeleting }) }),
			],
			connections: {
				[START]: { main: [[{ node: AGENT, type: 'main', index: 0 }]] },
				[CHAT_MODEL]: { ai_languageModel: [[{ node: AGENT, type: 'ai_languageModel', index: 0 }]] },
				[SEARCH.node]: { ai_tool: [[{ node: AGENT, type: 'ai_tool', index: 0 }]] },
				[MOVE.node]: { ai_tool: [[{ node: AGENT, type: 'ai_tool', index: 0 }]] },
				[DELETE.node]: { ai_tool: [[{ node: AGENT, type: 'ai_tool', index: 0 }]] },
			},
			settings: { executionOrder: 'v1' },
		};
	};

	const createWorkflow = async (workflow: Record<string, unknown>): Promise<string> => {
		const res = await n8n.rest('POST', '/rest/workflows', workflow);
		if (res.status !== 200) throw new Error(`creating workflow "${String(workflow.name)}": HTTP ${res.status} ${JSON.stringify(res.json)}`);
		return (res.json as { data: { id: string } }).data.id;
	};

	/** The editor's "Execute workflow": resolves with the finished execution as stored, and the model's requests of this run. */
	const runManually = async (workflowId: string): Promise<{ execution: StoredExecution; requests: ModelRequest[]; ms: number }> => {
		const before = model.requests.length;
		const started = Date.now();
		const res = await n8n.rest('POST', `/rest/workflows/${workflowId}/run`, { triggerToStartFrom: { name: START } });
		const executionId = (res.json as { data?: { executionId?: string } }).data?.executionId;
		if (res.status !== 200 || !executionId) throw new Error(`running workflow ${workflowId}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
		const execution = await waitFor(`execution ${executionId} to finish`, async () => {
			const found = (await n8n.executions(workflowId)).executions.find((e) => e.id === String(executionId));
			return found && isFinished(found) ? found : undefined;
		});
		return { execution, requests: model.requests.slice(before), ms: Date.now() - started };
	};

	/** The conversation a request sent. */
	const conversationOf = (request: ModelRequest) => new Conversation(request.body ?? {}, request.api);
	/** The tool results of a request: what n8n fed back to the model, as text. */
	const toolMessagesOf = (request: ModelRequest): string[] => conversationOf(request).toolResults().map((r) => r.content);

	beforeAll(async () => {
		servers = teardown.add(await startMailServers(), (s) => s.stop());
		model = teardown.add(await new ScriptedChatModel(API_KEY, { models: [MODEL] }).start(), (m) => m.stop());
		model.script(SCRIPT);
		await withImap(servers, 'alice', async (imap) => {
			for (const m of [INVOICE, NEWSLETTER, LUNCH]) await imap.append('INBOX', message(m), []);
		});

		({ n8n } = await startPackagedN8n(teardown, 'agent', { env: { NODE_EXTRA_CA_CERTS: servers.certPath } }));
		await n8n.start();
		await n8n.setupOwner();

		const created = async (name: string, type: string, data: Record<string, unknown>) => {
			const res = await n8n.rest('POST', '/rest/credentials', { name, type, data });
			if (res.status !== 200) throw new Error(`creating credential "${name}": HTTP ${res.status} ${JSON.stringify(res.json)}`);
			return { id: (res.json as { data: { id: string } }).data.id, name };
		};
		imapCredential = await created('alice (IMAP)', 'mailboxImapApi', { host: '127.0.0.1', port: servers.ports.imaps, security: 'tls', user: 'alice', password: 'alice-pw' });
		openAiCredential = await created('Scripted model', 'openAiApi', { apiKey: API_KEY, url: model.baseUrl });
	});

	afterAll(() => teardown.run());

	it('n8n offers the Mailbox node as the tool n8n-nodes-mailbox.mailboxTool, with Allow Deleting only there, and the model\'s credential tests against the local endpoint', async () => {
		const { nodes } = await n8n.nodeTypes();
		const byName = (name: string) => nodes.find((n) => n.name === name);
		const asTool = byName('n8n-nodes-mailbox.mailboxTool') as NodeTypeInfo & { properties: Array<{ name: string; default?: unknown; displayOptions?: unknown }>; outputs: unknown; inputs: unknown };
		expect(asTool).toMatchObject({ displayName: 'Mailbox Tool', inputs: [], outputs: ['ai_tool'] });
		const allow = asTool.properties.find((p) => p.name === 'allowDeleting');
		expect(allow).toMatchObject({ default: false, displayOptions: { show: { '@tool': [true], operation: ['delete', 'apply'] } } });
		expect(asTool.properties.map((p) => p.name)).toEqual(expect.arrayContaining(['descriptionType', 'toolDescription']));
		expect(byName('n8n-nodes-mailbox.mailbox')).toBeDefined();

		const tested = await n8n.testCredential({ id: openAiCredential.id, name: openAiCredential.name, type: 'openAiApi', data: { apiKey: API_KEY, url: model.baseUrl } });
		expect(tested.status).toBe('OK');
		expect(model.requests.at(-1)).toMatchObject({ method: 'GET', path: '/v1/models', status: 200, authorization: `Bearer ${API_KEY}` });
	});

	it('files the invoice: the agent searches, n8n feeds the found message back, the agent moves it to Archive and says so', async () => {
		const id = await createWorkflow(agentWorkflow('Agent files mail e2e', FILE_PROMPT));
		const { execution, requests, ms } = await runManually(id);
		process.stdout.write(`ai-agent e2e: search + move run took ${ms} ms\n`);
		expect(execution.error).toBeUndefined();
		expect(execution.status).toBe('success');

		// the user's view: the invoice is in Archive, the rest untouched, and the agent says what it did
		expect(await idsIn('Archive')).toEqual([INVOICE.id]);
		expect(await idsIn('INBOX')).toEqual([LUNCH.id, NEWSLETTER.id].sort());
		expect(execution.output[AGENT]).toEqual([{ output: `I moved "${INVOICE.subject}" to Archive.` }]);

		// the model was asked three times, each time with the prompt and the three tools
		const completions = requests.filter((r) => r.api);
		expect(completions.map((r) => r.turn)).toEqual(['search for the invoice', 'move the invoice', 'report the move']);
		for (const r of completions) {
			expect(r).toMatchObject({ method: 'POST', path: '/v1/chat/completions', api: 'chat.completions', status: 200, authorization: `Bearer ${API_KEY}` });
			expect(r.body).toMatchObject({ model: MODEL });
			expect(conversationOf(r).prompt).toBe(FILE_PROMPT);
		}

		// the tools as the model saw them: named after the nodes, described from the operation (n8n's "Set Automatically"), with $fromAI()'s parameters
		const tools = offeredTools(completions[0].body);
		expect(tools.map((t) => t.name).sort()).toEqual([DELETE.tool, MOVE.tool, SEARCH.tool]);
		const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
		expect(byName[SEARCH.tool].description).toBe('Search messages in a folder in Mailbox');
		expect(byName[MOVE.tool].description).toBe('Move a message to another folder in Mailbox');
		expect(byName[DELETE.tool].description).toBe('Delete a message in Mailbox');
		expect(byName[SEARCH.tool].parameters).toMatchObject({
			type: 'object',
			properties: { subject: { type: 'string', description: 'Words the subject of the wanted messages contains' } },
			required: ['subject'],
		});
		expect(byName[MOVE.tool].parameters).toMatchObject({
			type: 'object',
			properties: {
				folder: { type: 'string', description: 'The folder the message is in, as Search_mail returned it' },
				uid: { type: 'number', description: 'The uid of the message, as Search_mail returned it' },
				uidValidity: { type: 'string', description: 'The uidValidity of the message, as Search_mail returned it' },
				destination: { type: 'string', description: 'The folder to move the message to, e.g. Archive' },
			},
		});
		expect(((byName[MOVE.tool].parameters as { required: string[] }).required).sort()).toEqual(['destination', 'folder', 'uid', 'uidValidity']);
		expect(Object.keys((byName[DELETE.tool].parameters as { properties: object }).properties).sort()).toEqual(['folder', 'uid', 'uidValidity']);

		// what n8n fed back: the search result with the invoice's subject and address, then the move's result
		const [afterSearch] = toolMessagesOf(completions[1]);
		const searched = JSON.parse(afterSearch) as Array<Record<string, unknown>>;
		expect(searched).toEqual([expect.objectContaining({ folder: 'INBOX', subject: INVOICE.subject, messageId: INVOICE.id, uid: expect.any(Number), uidValidity: expect.anything() })]);
		const toolMessages = toolMessagesOf(completions[2]);
		expect(toolMessages).toHaveLength(2);
		const moved = JSON.parse(toolMessages[1]) as Array<Record<string, unknown>>;
		// (a Move's result names the Message-ID only when it was given: the tool has no input item holding it)
		expect(moved).toEqual([expect.objectContaining({ operation: 'move', folder: 'INBOX', uid: searched[0].uid, uidValidity: searched[0].uidValidity, messageId: null, destination: 'Archive', destinationUid: expect.any(Number) })]);
		// the assistant's calls went back with the arguments the script gave
		const assistantCalls = conversationOf(completions[2]).toolCalls();
		expect(assistantCalls.map((c) => c.name)).toEqual([SEARCH.tool, MOVE.tool]);
		expect(assistantCalls[1].arguments).toMatchObject({ folder: 'INBOX', uid: searched[0].uid, destination: 'Archive' });
	});

	it('refuses to delete as a tool without Allow Deleting: the agent is told so, naming the option, and the newsletter stays', async () => {
		const id = await createWorkflow(agentWorkflow('Agent may not delete e2e', DELETE_PROMPT));
		const { execution, requests, ms } = await runManually(id);
		process.stdout.write(`ai-agent e2e: refused delete run took ${ms} ms\n`);
		expect(execution.error).toBeUndefined();
		expect(execution.status).toBe('success');

		expect(await idsIn('INBOX')).toEqual([LUNCH.id, NEWSLETTER.id].sort());
		expect(await idsIn('Trash')).toEqual([]);

		const completions = requests.filter((r) => r.api);
		expect(completions.map((r) => r.turn)).toEqual(['search for the newsletter', 'delete the newsletter', 'report the deletion']);
		const refusal = toolMessagesOf(completions[2])[1];
		expect(JSON.parse(refusal)).toEqual([{ error: 'Message → Delete was refused: this Mailbox tool may not delete, because its option "Allow Deleting" is off. Nothing was deleted.' }]);
		expect(execution.output[AGENT]).toEqual([{ output: `I could not delete "${NEWSLETTER.subject}": Message → Delete was refused: this Mailbox tool may not delete, because its option "Allow Deleting" is off. Nothing was deleted.` }]);
	});

	it('deletes as a tool with Allow Deleting on: the newsletter goes to Trash', async () => {
		const id = await createWorkflow(agentWorkflow('Agent may delete e2e', DELETE_PROMPT, { allowDeleting: true }));
		const { execution, requests, ms } = await runManually(id);
		process.stdout.write(`ai-agent e2e: allowed delete run took ${ms} ms\n`);
		expect(execution.error).toBeUndefined();
		expect(execution.status).toBe('success');

		expect(await idsIn('INBOX')).toEqual([LUNCH.id]);
		expect(await idsIn('Trash')).toEqual([NEWSLETTER.id]);
		const completions = requests.filter((r) => r.api);
		expect(completions.map((r) => r.turn)).toEqual(['search for the newsletter', 'delete the newsletter', 'report the deletion']);
		expect(JSON.parse(toolMessagesOf(completions[2])[1])).toEqual([expect.objectContaining({ operation: 'delete', folder: 'INBOX', deleted: 'trash', destination: 'Trash' })]);
		expect(execution.output[AGENT]).toEqual([{ output: `I deleted "${NEWSLETTER.subject}"; it is in Trash now.` }]);
	});

	it('works the same with the OpenAI Chat Model\'s default, the Responses API: tools offered and results fed back there', async () => {
		const id = await createWorkflow(agentWorkflow('Agent files mail (Responses API) e2e', LUNCH_PROMPT, { responsesApi: true }));
		const { execution, requests, ms } = await runManually(id);
		process.stdout.write(`ai-agent e2e: Responses API search + move run took ${ms} ms\n`);
		expect(execution.error).toBeUndefined();
		expect(execution.status).toBe('success');

		expect(await idsIn('INBOX')).toEqual([]);
		expect(await idsIn('Archive')).toEqual([INVOICE.id, LUNCH.id].sort());
		expect(execution.output[AGENT]).toEqual([{ output: `I moved "${LUNCH.subject}" to Archive.` }]);

		const completions = requests.filter((r) => r.api);
		expect(completions.map((r) => [r.path, r.turn])).toEqual([
			['/v1/responses', 'search for the lunch message'],
			['/v1/responses', 'move the lunch message'],
			['/v1/responses', 'report the move'],
		]);
		const tools = offeredTools(completions[0].body);
		expect(Object.fromEntries(tools.map((t) => [t.name, t.description]))).toEqual({
			[SEARCH.tool]: 'Search messages in a folder in Mailbox',
			[MOVE.tool]: 'Move a message to another folder in Mailbox',
			[DELETE.tool]: 'Delete a message in Mailbox',
		});
		const [searched] = JSON.parse(toolMessagesOf(completions[1])[0]) as Array<Record<string, unknown>>;
		expect(searched).toMatchObject({ folder: 'INBOX', subject: LUNCH.subject, messageId: LUNCH.id });
		expect(JSON.parse(toolMessagesOf(completions[2])[1])).toEqual([expect.objectContaining({ operation: 'move', folder: 'INBOX', uid: searched.uid, destination: 'Archive' })]);
	});

	it('the example workflow as the demo imports it (examples/workflows/ai-agent.json): new mail reaches the agent, which moves the invoice to Archive', async () => {
		const example = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'workflows', 'ai-agent.json'), 'utf8')) as { nodes: Array<{ name: string; credentials?: Record<string, unknown> }> } & Record<string, unknown>;
		// the demo's credentials are this n8n's: the mailbox's, and the scripted model's for the chat model
		for (const node of example.nodes) {
			if (node.credentials?.mailboxImapApi) node.credentials = { mailboxImapApi: imapCredential };
			if (node.name === CHAT_MODEL) node.credentials = { openAiApi: openAiCredential };
		}
		delete example.id;
		const res = await n8n.rest('POST', '/rest/workflows', example);
		expect(res.status).toBe(200);
		const { id, versionId } = (res.json as { data: { id: string; versionId: string } }).data;
		const activated = await n8n.rest('POST', `/rest/workflows/${id}/activate`, { versionId });
		expect(activated.status).toBe(200);
		await n8n.waitForTriggerState(id, 'INBOX');

		await withImap(servers, 'alice', (imap) => imap.append('INBOX', message(ARRIVING), []));
		const [run] = await waitFor('the run of the new mail', async () => {
			const runs = (await n8n.executions(id)).executions.filter((e) => e.mode === 'trigger' && isFinished(e));
			return runs.length ? runs : undefined;
		});
		expect(run.status).toBe('success');
		expect(run.output['AI Agent']).toEqual([{ output: `I moved "${ARRIVING.subject}" to Archive.` }]);
		expect(await idsIn('Archive')).toContain(ARRIVING.id);
		expect(await idsIn('INBOX')).not.toContain(ARRIVING.id);

		// the prompt carried the message's own text and its address; the model was offered the two tools of the example
		const requests = model.requests.filter((r) => r.api && r.turn === 'file the arrived invoice');
		expect(requests).toHaveLength(1);
		expect(offeredTools(requests[0].body).map((t) => t.name).sort()).toEqual([MOVE.tool, SEARCH.tool].sort());
		expect(conversationOf(requests[0]).prompt).toContain(`Hello Alice, this is "${ARRIVING.subject}".`);

		const deactivated = await n8n.rest('POST', `/rest/workflows/${id}/deactivate`, {});
		expect(deactivated.status).toBe(200);
	});
});
