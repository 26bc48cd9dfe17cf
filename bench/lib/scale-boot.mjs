// Entry of a bench:scale worker thread. `--import tsx` does not reach worker threads on Node 20,
// so the worker loads the polyfill and its TypeScript entry through tsx's API (src/polyfill.ts first,
// as every entry point does).
import { workerData } from 'node:worker_threads'
import { tsImport } from 'tsx/esm/api'

await tsImport('../../src/polyfill.ts', import.meta.url)
await tsImport(workerData.entry, import.meta.url)
