/**
 * The Mailbox node as an AI agent's tool: its deleting operations are refused unless Allow
 * Deleting is on, before anything is opened; everywhere else (the node in a workflow's own steps,
 * the tool's other operations) nothing changes. Allow Deleting is shown only on the tool, as n8n
 * decides with its '@tool' display option.
 */
import { NodeHelpers, type IExecuteFunctions, type INodeExecutionData, type INodeTypeDescription } from 'n8n-workflow';
import { Mailbox } from '../../../../../nodes/Mailbox/Mailbox.node';
import { DELETING_OPERATIONS, allowDeletingProperty, runsAsTool } from '../../../../../nodes/Mailbox/actions/tool-use';
import { executeContext, failure } from '../../../../integration/helpers/execute-context';

const node = new Mailbox();
const TOOL = { name: 'Mailbox Tool', type: 'n8n-nodes-mailbox.mailboxTool' };
const STEP = { name: 'Mailbox', type: 'n8n-nodes-mailbox.mailbox' };
const ITEM: INodeExecutionData[] = [{ json: {} }];
/** Without credentials: a run that goes on to the mailbox fails asking for the credential. */
const REACHED_THE_MAILBOX = /no credential mailboxImapApi/;

const ADDRESS = { folder: 'INBOX', uid: '7', uidValidity: '1700000000', options: {} };
const PARAMS: Record<string, Record<string, unknown>> = {
	'message/delete': { resource: 'message', operation: 'delete', ...ADDRESS },
	'folder/delete': { resource: 'folder', operation: 'delete', folderPath: 'Old', force: false, options: {} },
	'retention/apply': { resource: 'retention', operation: 'apply', inboxDays: 30, junkDays: 30, sentDays: 0, otherFolders: {}, options: {} },
	'message/move': { resource: 'message', operation: 'move', ...ADDRESS, destination: 'Archive' },
	'message/search': { resource: 'message', operation: 'search', folder: 'INBOX', filters: {}, returnAll: false, limit: 5, output: 'headers', options: {} },
	'folder/list': { resource: 'folder', operation: 'list', options: {} },
};

function run(as: { name: string; type: string }, params: Record<string, unknown>, extra: Partial<{ continueOnFail: boolean; isToolExecution: () => boolean }> = {}) {
	const ctx = executeContext({ items: ITEM, params: { authentication: 'password', ...params }, credentials: {}, continueOnFail: extra.continueOnFail, node: as });
	const withTool = extra.isToolExecution ? ({ ...ctx, isToolExecution: extra.isToolExecution } as unknown as IExecuteFunctions) : ctx;
	return node.execute.call(withTool);
}

describe('the Mailbox node as an AI agent\'s tool', () => {
	it('counts Message → Delete, Folder → Delete and Retention → Remove Old Mail as deleting', () => {
		expect(DELETING_OPERATIONS).toEqual({ folder: ['delete'], message: ['delete'], retention: ['apply'] });
	});

	it.each(['message/delete', 'folder/delete', 'retention/apply'])('refuses %s as a tool without Allow Deleting, naming the option, before opening the mailbox', async (key) => {
		const error = await failure(run(TOOL, PARAMS[key]));
		expect(error.message).toMatch(/was refused: this Mailbox tool may not delete, because its option "Allow Deleting" is off\. Nothing was deleted\.$/);
		expect(error.message).not.toMatch(REACHED_THE_MAILBOX);
		expect(error.description).toContain('turn on "Allow Deleting"');
	});

	it('names the operation in the refusal', async () => {
		expect((await failure(run(TOOL, PARAMS['message/delete']))).message).toMatch(/^Message → Delete was refused/);
		expect((await failure(run(TOOL, PARAMS['folder/delete']))).message).toMatch(/^Folder → Delete was refused/);
		expect((await failure(run(TOOL, PARAMS['retention/apply']))).message).toMatch(/^Retention → Remove Old Mail was refused/);
	});

	it.each(['message/delete', 'folder/delete', 'retention/apply'])('runs %s as a tool with Allow Deleting on', async (key) => {
		expect((await failure(run(TOOL, { ...PARAMS[key], allowDeleting: true }))).message).toMatch(REACHED_THE_MAILBOX);
	});

	it.each(['message/move', 'message/search', 'folder/list'])('runs %s as a tool without Allow Deleting (it deletes nothing)', async (key) => {
		expect((await failure(run(TOOL, PARAMS[key]))).message).toMatch(REACHED_THE_MAILBOX);
	});

	it.each(['message/delete', 'folder/delete', 'retention/apply'])('runs %s as a workflow step as before, Allow Deleting or not', async (key) => {
		expect((await failure(run(STEP, PARAMS[key]))).message).toMatch(REACHED_THE_MAILBOX);
		// a saved workflow never has it (it is not shown there); if it had, it would change nothing
		expect((await failure(run(STEP, { ...PARAMS[key], allowDeleting: false }))).message).toMatch(REACHED_THE_MAILBOX);
	});

	it('hands the refusal over as the item\'s error with Continue On Fail', async () => {
		const [out] = await run(TOOL, PARAMS['message/delete'], { continueOnFail: true });
		expect(out).toEqual([{ json: { error: expect.stringContaining('"Allow Deleting" is off'), description: expect.stringContaining('turn on "Allow Deleting"') }, pairedItem: { item: 0 } }]);
	});

	it('knows a tool by the execution context (agents calling tools through supplyData) or by the node type n8n derives', async () => {
		const getNode = (type: string) => () => ({ id: 'x', name: 'x', type, typeVersion: 1, position: [0, 0] as [number, number], parameters: {} });
		expect(runsAsTool({ getNode: getNode('n8n-nodes-mailbox.mailboxTool') })).toBe(true);
		expect(runsAsTool({ getNode: getNode('n8n-nodes-mailbox.mailbox') })).toBe(false);
		expect(runsAsTool({ getNode: getNode('n8n-nodes-mailbox.mailbox'), isToolExecution: () => true })).toBe(true);
		expect(runsAsTool({ getNode: getNode('n8n-nodes-mailbox.mailboxTool'), isToolExecution: () => false })).toBe(true);
		expect(runsAsTool({ getNode: getNode('n8n-nodes-mailbox.mailbox'), isToolExecution: () => false })).toBe(false);
		// the context's signal alone refuses too
		const error = await failure(run(STEP, PARAMS['message/delete'], { isToolExecution: () => true }));
		expect(error.message).toContain('"Allow Deleting" is off');
	});

	it('shows Allow Deleting (off by default) only on the tool, and there only for the deleting operations', () => {
		const described = node.description.properties.filter((p) => p.name === 'allowDeleting');
		expect(described).toEqual([allowDeletingProperty]);
		expect(allowDeletingProperty.default).toBe(false);
		const asTool = { ...node.description, name: 'mailboxTool' } as INodeTypeDescription;
		const shown = (description: INodeTypeDescription, resource: string, operation: string) =>
			NodeHelpers.displayParameter({ resource, operation }, allowDeletingProperty, { typeVersion: 1 } as never, description);
		for (const key of Object.keys(PARAMS)) {
			const [resource, operation] = key.split('/');
			const deleting = DELETING_OPERATIONS[resource]?.includes(operation) ?? false;
			expect({ key, tool: shown(asTool, resource, operation), step: shown(node.description, resource, operation) }).toEqual({ key, tool: deleting, step: false });
		}
	});
});
