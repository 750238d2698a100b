export { ImapWatcher, headerBlock, isDeliveryStatusReport } from './watcher';
export type { AfterProcessing, DeliveryOutcome, FolderStats, ImapWatcherOptions, ResetPoint, StartResult, WatchEvent, WatchedMessage } from './watcher';
export { emptyState, loadState, resetFromUid, STATE_VERSION } from './state';
export type { FirstActivation, FolderState, WatchState } from './state';
export { Backoff, guard, systemClock } from './clock';
export type { BackoffOptions, Clock } from './clock';
