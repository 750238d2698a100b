export { ImapWatcher, isDeliveryStatusReport } from './watcher';
export type { AfterProcessing, FolderStats, ImapWatcherOptions, ResetPoint, StartResult, WatchEvent, WatchedMessage } from './watcher';
export { emptyState, loadState, STATE_VERSION } from './state';
export type { FirstActivation, FolderState, WatchState } from './state';
export { newestMessage } from './newest';
export { folderChoices, watchFolders } from './folders';
export type { WatchFolders, WatchFoldersChoice } from './folders';
