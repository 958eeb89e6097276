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

// Served the way the worker serves it (azure-functions-nodejs-worker, setupCoreModule.ts): a Proxy on
// Module.prototype.require that answers this one name, nothing on Module._load or _resolveFilename. So
// the module is reachable exactly where it is in Azure: through a CommonJS require (in the bundle, the
// createRequire banner of dev/bundle.ts), never through an ES import or a resolve.
const stubId = '@azure/functions-core';
Module.prototype.require = new Proxy(Module.prototype.require, {
  apply(target, thisArg, argArray) {
    if (argArray[0] === stubId) return coreApi;
    return Reflect.apply(target, thisArg, argArray);
  },
});

globalThis.__coordinatorFunctionRegistry = registry;
module.exports = registry;
