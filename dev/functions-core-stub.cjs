// Stand-in for the Functions worker's `@azure/functions-core` module, for the dev host and tests only.
// It captures what `app.http`/`app.timer` register so the dev host serves exactly what Azure would.
// Never shipped: `npm run package` compiles only functions/ and shared/ into the deployment package.
const Module = require('node:module');

const registry = {
  functions: [],
  programmingModel: undefined,
  hooks: [],
};

const coreApi = {
  version: '3.10.1',
  hostVersion: '4.1037.0.0',
  registerFunction(metadata, callback) {
    registry.functions.push({ metadata, callback });
    return { dispose() {} };
  },
  setProgrammingModel(model) {
    registry.programmingModel = model;
  },
  getProgrammingModel() {
    return registry.programmingModel;
  },
  registerHook(hookName, callback) {
    registry.hooks.push({ hookName, callback });
    return { dispose() {} };
  },
  log(level, category, message) {
    if (level === 'error' || level === 'warning') console.error(`[functions ${level}] ${message}`);
  },
  Disposable: class {
    static from() {
      return { dispose() {} };
    }
  },
};

const stubId = '@azure/functions-core';
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === stubId) return stubId;
  return resolve.call(this, request, ...rest);
};
const entry = new Module(stubId);
entry.filename = stubId;
entry.loaded = true;
entry.exports = coreApi;
require.cache[stubId] = entry;

globalThis.__coordinatorFunctionRegistry = registry;
module.exports = registry;
