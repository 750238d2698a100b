/**
 * A scripted chat model on 127.0.0.1 that speaks OpenAI's Chat Completions API (and, without
 * streaming, the Responses API), for n8n's OpenAI Chat Model node (@n8n/n8n-nodes-langchain.
 * lmChatOpenAi; version 1.3 uses the Responses API unless "Use Responses API" is off), its
 * `openAiApi` credential's Base URL pointed at `baseUrl`. No model runs: a test gives a script of
 * turns, and each request is answered by the first turn whose `when` holds for the conversation
 * received (e.g. "a tool result with the message's uid came back"), with tool calls or a final
 * assistant message. Every request is recorded: the tools n8n offered (names, descriptions, JSON
 * schemas of their parameters) and the messages, tool results included.
 *
 * The answers follow the documented shapes (https://platform.openai.com/docs/api-reference/chat and
 * …/responses):
 * - POST /v1/chat/completions: `chat.completion` with choices[].message.{content, tool_calls[].
 *   {id, type: "function", function: {name, arguments (a JSON string)}}}, finish_reason
 *   "tool_calls" or "stop", and usage; with `stream: true` server-sent `chat.completion.chunk`s
 *   (the role first, then the content or the tool calls as deltas, then the finish reason, the
 *   usage when stream_options.include_usage asks for it) and `data: [DONE]`.
 * - POST /v1/responses: a `response` whose output is `function_call` items (call_id, name,
 *   arguments) or one assistant `message` with `output_text`, status "completed", and usage; the
 *   conversation is read from `input` (messages, function_call and function_call_output items).
 *   `stream: true` is refused with a 400 naming it (n8n's node does not stream without a
 *   streaming trigger).
 * - GET /v1/models (the credential's Test): a `list` of `model`s.
 * - Errors as OpenAI gives them: {error: {message, type, param, code}} with 401 for a wrong API key,
 *   404 for an unknown path, and 500 when the script has no turn for a conversation.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerSecret } from '../canary';
import { closeWhenFileEnds } from './lifetime';
import { LOOPBACK, listenOnLoopback } from './ports';

/** A tool as offered in a request (`tools[]` of type "function"). */
export interface OfferedTool {
	name: string;
	description?: string;
	/** its parameters' JSON schema */
	parameters?: Record<string, unknown>;
	strict?: boolean;
}

export interface ChatToolCall {
	id: string;
	type: 'function';
	function: { name: string; arguments: string };
}

/** A message of a request, as the Chat Completions API defines it (the parts used here). */
export interface ChatMessage {
	role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
	content?: string | Array<{ type: string; text?: string }> | null;
	tool_calls?: ChatToolCall[];
	tool_call_id?: string;
	name?: string;
}

/** The API a request for a model answer spoke. */
export type ModelApi = 'chat.completions' | 'responses';

/** One request to the endpoint as received. */
export interface ModelRequest {
	method: string;
	path: string;
	/** which API a POST spoke */
	api?: ModelApi;
	/** the Authorization header, as sent */
	authorization?: string;
	/** the parsed JSON body (POST) */
	body?: Record<string, unknown>;
	/** the HTTP status answered */
	status?: number;
	/** the scripted turn that answered (its name) */
	turn?: string;
}

/** A tool result fed back to the model (a `tool` message or a `function_call_output` item) with its call. */
export interface ToolResult {
	toolCallId: string;
	/** the tool the assistant called with this id (from the earlier assistant message) */
	name?: string;
	/** the arguments of that call, parsed */
	arguments?: Record<string, unknown>;
	/** the text n8n sent back */
	content: string;
	/** the content parsed as JSON, when it is JSON */
	json?: unknown;
}

/** One entry of a conversation, the same for both APIs. */
export interface ConversationEntry {
	role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
	text: string;
	/** an assistant's tool calls */
	toolCalls: Array<{ id: string; name: string; arguments: string }>;
	/** a tool result's call */
	toolCallId?: string;
}

/** The conversation of one request (Chat Completions `messages` or Responses `input`), with helpers for a script. */
export class Conversation {
	readonly api: ModelApi;

	constructor(readonly body: Record<string, unknown>, api?: ModelApi) {
		this.api = api ?? (Array.isArray(body.messages) ? 'chat.completions' : 'responses');
	}

	/** The messages as the Chat Completions API has them (empty for a Responses request: see entries). */
	get messages(): ChatMessage[] {
		return Array.isArray(this.body.messages) ? (this.body.messages as ChatMessage[]) : [];
	}

	/** The conversation, oldest first, whichever API sent it. */
	get entries(): ConversationEntry[] {
		if (this.api === 'chat.completions') {
			return this.messages.map((m) => ({
				role: m.role,
				text: textOf(m.content),
				toolCalls: (m.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })),
				toolCallId: m.tool_call_id,
			}));
		}
		const entries: ConversationEntry[] = [];
		if (typeof this.body.instructions === 'string') entries.push({ role: 'system', text: this.body.instructions, toolCalls: [] });
		const input = typeof this.body.input === 'string' ? [{ role: 'user', content: this.body.input }] : Array.isArray(this.body.input) ? (this.body.input as Array<Record<string, unknown>>) : [];
		for (const item of input) {
			if (item.type === 'function_call') {
				const call = { id: String(item.call_id ?? ''), name: String(item.name ?? ''), arguments: String(item.arguments ?? '') };
				const last = entries.at(-1);
				// consecutive calls are one assistant turn, as in Chat Completions
				if (last?.role === 'assistant' && !last.text) last.toolCalls.push(call);
				else entries.push({ role: 'assistant', text: '', toolCalls: [call] });
			} else if (item.type === 'function_call_output') {
				entries.push({ role: 'tool', text: textOf(item.output as ChatMessage['content']), toolCalls: [], toolCallId: String(item.call_id ?? '') });
			} else if (typeof item.role === 'string') {
				entries.push({ role: item.role as ConversationEntry['role'], text: textOf(item.content as ChatMessage['content']), toolCalls: [] });
			}
		}
		return entries;
	}

	get tools(): OfferedTool[] {
		return offeredTools(this.body);
	}

	/** The text of the first user message (the agent's prompt). */
	get prompt(): string {
		return this.entries.find((e) => e.role === 'user')?.text ?? '';
	}

	/** The assistant's tool calls so far, oldest first, arguments parsed. */
	toolCalls(): Array<{ id: string; name: string; arguments: Record<string, unknown> | undefined }> {
		return this.entries.flatMap((e) => e.toolCalls).map((c) => ({ id: c.id, name: c.name, arguments: parsed(c.arguments) as Record<string, unknown> | undefined }));
	}

	/** Every tool result so far, oldest first, with the call it answers. */
	toolResults(): ToolResult[] {
		const calls = new Map(this.toolCalls().map((c) => [c.id, c]));
		return this.entries
			.filter((e) => e.role === 'tool')
			.map((e) => {
				const call = calls.get(e.toolCallId ?? '');
				return { toolCallId: e.toolCallId ?? '', name: call?.name, arguments: call?.arguments, content: e.text, json: parsed(e.text) };
			});
	}

	/** The latest result of the named tool. */
	lastResultOf(tool: string): ToolResult | undefined {
		return this.toolResults().filter((r) => r.name === tool).at(-1);
	}
}

function parsed(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

/** What a turn answers: tool calls (arguments as an object; sent as a JSON string), or a final message. */
export type Reply = { toolCalls: Array<{ name: string; arguments: Record<string, unknown> }> } | { content: string };

export interface Turn {
	/** for the record and for failures */
	name: string;
	/** whether this turn answers the conversation */
	when: (conversation: Conversation) => boolean;
	reply: (conversation: Conversation) => Reply;
}

function textOf(content: ChatMessage['content']): string {
	if (typeof content === 'string') return content;
	if (Array.isArray(content)) return content.map((part) => part.text ?? '').join('');
	return '';
}

/** The function tools of a request body: Chat Completions' {type, function: {…}} or the Responses API's flat {type, name, …}. */
export function offeredTools(body: Record<string, unknown> | undefined): OfferedTool[] {
	const tools = Array.isArray(body?.tools) ? (body.tools as Array<OfferedTool & { type?: string; function?: OfferedTool }>) : [];
	return tools
		.filter((t) => t.type === 'function')
		.map((t) => t.function ?? { name: t.name, description: t.description, parameters: t.parameters, strict: t.strict })
		.filter((t) => typeof t.name === 'string');
}

/** A rough token count for `usage` (about four characters a token, as OpenAI's rule of thumb). */
function tokens(text: string): number {
	return Math.max(1, Math.ceil(text.length / 4));
}

export class ScriptedChatModel {
	/** Every request, oldest first. */
	readonly requests: ModelRequest[] = [];
	/** The model ids GET /v1/models lists. */
	readonly models: string[];
	private turns: Turn[] = [];
	private server?: http.Server;
	private port = 0;

	constructor(readonly apiKey: string, options: { models?: string[] } = {}) {
		this.models = options.models ?? ['gpt-4o-mini'];
		// n8n keeps it in its credential: it must show nowhere else (test/canary.js)
		registerSecret(apiKey);
	}

	/** Replaces the script: each request is answered by the first turn whose `when` holds. */
	script(turns: Turn[]): this {
		this.turns = turns;
		return this;
	}

	/** The requests for a model answer (Chat Completions or Responses), oldest first. */
	get completions(): ModelRequest[] {
		return this.requests.filter((r) => r.api !== undefined);
	}

	/** The Base URL for the `openAiApi` credential (ends in /v1, as OpenAI's own). */
	get baseUrl(): string {
		return `http://${LOOPBACK}:${this.port}/v1`;
	}

	async start(): Promise<this> {
		const server = http.createServer((req, res) => {
			this.handle(req, res).catch((error: unknown) => {
				if (!res.headersSent) this.error(res, 500, String(error), 'server_error');
				else res.end();
			});
		});
		this.server = server;
		closeWhenFileEnds('scripted OpenAI chat model', server);
		await listenOnLoopback(server);
		this.port = (server.address() as AddressInfo).port;
		return this;
	}

	stop(): Promise<void> {
		return new Promise((resolve) => {
			if (!this.server) return resolve();
			this.server.closeAllConnections();
			this.server.close(() => resolve());
		});
	}

	private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const raw = Buffer.concat(chunks).toString('utf8');
		const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
		const record: ModelRequest = { method: req.method ?? 'GET', path, authorization: req.headers.authorization };
		this.requests.push(record);
		if (raw) {
			try {
				record.body = JSON.parse(raw) as Record<string, unknown>;
			} catch {
				record.status = 400;
				return this.error(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
			}
		}
		const answer = (status: number) => (record.status = status);
		if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
			answer(401);
			return this.error(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
		}
		if (record.method === 'GET' && path === '/v1/models') {
			answer(200);
			return this.json(res, 200, { object: 'list', data: this.models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'mailbox-e2e' })) });
		}
		const api: ModelApi | undefined = record.method !== 'POST' ? undefined : path === '/v1/chat/completions' ? 'chat.completions' : path === '/v1/responses' ? 'responses' : undefined;
		if (api) {
			record.api = api;
			const body = record.body ?? {};
			if (api === 'responses' && body.stream === true) {
				answer(400);
				return this.error(res, 400, 'The scripted model does not stream the Responses API.', 'invalid_request_error');
			}
			const conversation = new Conversation(body, api);
			const turn = this.turns.find((t) => t.when(conversation));
			if (!turn) {
				answer(500);
				const seen = conversation.toolResults().map((r) => r.name ?? '?');
				return this.error(res, 500, `The scripted model has no turn for this conversation (prompt "${conversation.prompt}", tool results: ${seen.join(', ') || 'none'}).`, 'server_error');
			}
			record.turn = turn.name;
			answer(200);
			return api === 'chat.completions' ? this.complete(res, body, turn.reply(conversation)) : this.respond(res, body, turn.reply(conversation));
		}
		answer(404);
		return this.error(res, 404, `Invalid URL (${record.method} ${path})`, 'invalid_request_error');
	}

	/** A chat.completion, or its chunks when the request streams. */
	private complete(res: http.ServerResponse, body: Record<string, unknown>, reply: Reply): void {
		const id = `chatcmpl-${crypto.randomBytes(12).toString('hex')}`;
		const created = Math.floor(Date.now() / 1000);
		const model = typeof body.model === 'string' ? body.model : this.models[0];
		const toolCalls: ChatToolCall[] | undefined =
			'toolCalls' in reply ? reply.toolCalls.map((call) => ({ id: `call_${crypto.randomBytes(12).toString('hex')}`, type: 'function', function: { name: call.name, arguments: JSON.stringify(call.arguments) } })) : undefined;
		const content = 'content' in reply ? reply.content : null;
		const finishReason = toolCalls ? 'tool_calls' : 'stop';
		const promptTokens = tokens(JSON.stringify(body.messages ?? []));
		const completionTokens = tokens(content ?? JSON.stringify(toolCalls));
		const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
		if (body.stream !== true) {
			this.json(res, 200, {
				id,
				object: 'chat.completion',
				created,
				model,
				system_fingerprint: 'fp_mailbox_e2e',
				choices: [{ index: 0, message: { role: 'assistant', content, refusal: null, ...(toolCalls ? { tool_calls: toolCalls } : {}) }, logprobs: null, finish_reason: finishReason }],
				usage,
			});
			return;
		}
		res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
		const chunk = (delta: Record<string, unknown>, finish: string | null) =>
			res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_mailbox_e2e', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`);
		chunk({ role: 'assistant', content: toolCalls ? null : '', refusal: null }, null);
		if (toolCalls) {
			toolCalls.forEach((call, index) => {
				chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }, null);
				// the arguments in two pieces, as a model streams them
				const half = Math.ceil(call.function.arguments.length / 2);
				for (const piece of [call.function.arguments.slice(0, half), call.function.arguments.slice(half)]) if (piece) chunk({ tool_calls: [{ index, function: { arguments: piece } }] }, null);
			});
		} else {
			for (const word of (content ?? '').split(/(?<= )/)) chunk({ content: word }, null);
		}
		chunk({}, finishReason);
		if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) {
			res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_mailbox_e2e', choices: [], usage })}\n\n`);
		}
		res.end('data: [DONE]\n\n');
	}

	/** A Responses API `response` (not streamed). */
	private respond(res: http.ServerResponse, body: Record<string, unknown>, reply: Reply): void {
		const model = typeof body.model === 'string' ? body.model : this.models[0];
		const output =
			'toolCalls' in reply
				? reply.toolCalls.map((call) => ({ type: 'function_call', id: `fc_${crypto.randomBytes(12).toString('hex')}`, call_id: `call_${crypto.randomBytes(12).toString('hex')}`, name: call.name, arguments: JSON.stringify(call.arguments), status: 'completed' }))
				: [{ type: 'message', id: `msg_${crypto.randomBytes(12).toString('hex')}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: reply.content, annotations: [] }] }];
		const inputTokens = tokens(JSON.stringify(body.input ?? ''));
		const outputTokens = tokens(JSON.stringify(output));
		this.json(res, 200, {
			id: `resp_${crypto.randomBytes(12).toString('hex')}`,
			object: 'response',
			created_at: Math.floor(Date.now() / 1000),
			status: 'completed',
			error: null,
			incomplete_details: null,
			instructions: body.instructions ?? null,
			max_output_tokens: body.max_output_tokens ?? null,
			model,
			output,
			parallel_tool_calls: true,
			previous_response_id: body.previous_response_id ?? null,
			reasoning: { effort: null, summary: null },
			store: false,
			temperature: body.temperature ?? 1,
			text: { format: { type: 'text' } },
			tool_choice: body.tool_choice ?? 'auto',
			tools: body.tools ?? [],
			top_p: body.top_p ?? 1,
			truncation: 'disabled',
			usage: { input_tokens: inputTokens, input_tokens_details: { cached_tokens: 0 }, output_tokens: outputTokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: inputTokens + outputTokens },
			user: null,
			metadata: {},
		});
	}

	private json(res: http.ServerResponse, status: number, body: unknown): void {
		const text = JSON.stringify(body);
		res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': `req_${crypto.randomBytes(8).toString('hex')}` });
		res.end(text);
	}

	private error(res: http.ServerResponse, status: number, message: string, type: string, code: string | null = null): void {
		this.json(res, status, { error: { message, type, param: null, code } });
	}
}
