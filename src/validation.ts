import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext resolution.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** An ajv instance with the standard formats (uuid, date-time, ...), as every validator here uses. */
export function createAjv(options: Options): Ajv {
  return addFormats(new Ajv({ strict: false, ...options }));
}
