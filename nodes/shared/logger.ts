import type { Logger as N8nLogger } from 'n8n-workflow';
import type { Logger } from '../../lib/logger';

/** n8n's logger as lib/'s Logger. */
export function n8nLogger(logger: N8nLogger): Logger {
	return {
		debug: (message, meta) => logger.debug(message, meta),
		info: (message, meta) => logger.info(message, meta),
		warn: (message, meta) => logger.warn(message, meta),
		error: (message, meta) => logger.error(message, meta),
	};
}
