// Applies the layer's timeout for tests and hooks from jest.config.js (set on the test file's
// global by test/environment.js). A test or hook that names its own timeout keeps it.
'use strict';
if (globalThis.__mailboxTimeoutMs) jest.setTimeout(globalThis.__mailboxTimeoutMs);
