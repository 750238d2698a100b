/** The local EWS endpoint for tests (see server.ts): what test/servers/ews exported as one file. */
export { EwsServer, type EwsRequestLog, type EwsServerOptions } from './server';
export { NS } from './soap';
export { type EwsFolderItem, type WellKnownFolder } from './store';
export { parseXml, type XmlElement } from './xml';
