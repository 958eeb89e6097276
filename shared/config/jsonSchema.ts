// The JSON Schema for editors, generated from the same zod schema that validates the config.
import { z } from 'zod';
import { coordinationConfigShape } from './coordination/schema.js';

export const jsonSchemaFileName = 'coordination.schema.json';

export function coordinationJsonSchema(): string {
  const schema = z.toJSONSchema(coordinationConfigShape, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'Octopus Coordinator coordination config' }, null, 2)}\n`;
}
