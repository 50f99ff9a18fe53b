// One JSON Schema validator for the project; errors name the JSON path and what was expected.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { DvrError } from './errors.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });

export function compile<T>(schema: object): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

export function describeErrors(errors: ErrorObject[] | null | undefined, root = '$'): string {
  return (errors ?? []).map((e) => {
    const where = root + e.instancePath.replace(/\//g, '.').replace(/\.(\d+)(?=\.|$)/g, '[$1]');
    if (e.keyword === 'additionalProperties') {
      return `${where}: unknown field '${String(e.params['additionalProperty'])}'`;
    }
    return `${where}: ${e.message ?? 'is invalid'}`;
  }).join('; ');
}

/** Validates (applying schema defaults to a copy) and returns a deeply frozen value. */
export function validateOrThrow<T>(validate: ValidateFunction<T>, input: unknown, what: string): Readonly<T> {
  const copy: unknown = input === undefined ? undefined : structuredClone(input);
  if (!validate(copy)) {
    throw new DvrError('DVR_ERR_CONFIG', `invalid ${what}: ${describeErrors(validate.errors)}`);
  }
  return deepFreeze(copy);
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
