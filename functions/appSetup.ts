import { app } from '@azure/functions';

// HTTP streaming: the host forwards each request's body as a stream instead of buffering it (up to
// 100 MB, before any code runs) and handing a chunked one over empty. The one body reader
// (shared/http/body.ts) then enforces each route's limit while reading, in Azure as on the dev host.
// Needs Functions host 4.28 or later (Flex Consumption has it). Loaded through the package's `main`
// glob like every function file; it must run before the worker's start-up ends.
app.setup({ enableHttpStream: true });
