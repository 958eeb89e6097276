// `npm run schema`: write coordination.schema.json from the zod schema.
import { writeFile } from 'node:fs/promises';
import { coordinationJsonSchema, jsonSchemaFileName } from './jsonSchema.js';

await writeFile(jsonSchemaFileName, coordinationJsonSchema());
console.log(`Wrote ${jsonSchemaFileName}`);
