/**
 * A run's parameter form, generated from the flow version's parameter JSON Schema (what
 * notebooks/parameters.py and spec/python_flows.py write): one field per property, the
 * widget its type calls for, the default filled in, and each value checked before submit.
 * Pure functions, so the form's rules are tested without a browser.
 */
import type { IJSONSchema } from '../api';

export type Widget =
  | 'integer'
  | 'number'
  | 'text'
  | 'boolean'
  | 'choice'
  | 'date'
  | 'datetime'
  | 'time'
  | 'list'
  | 'json';

export interface IField {
  name: string;
  widget: Widget;
  /** The property's own schema, without a `null` option. */
  schema: IJSONSchema;
  required: boolean;
  /** Whether null is allowed (an empty field then means null). */
  nullable: boolean;
  description: string;
  /** The choices of a `choice` field. */
  options: unknown[];
  hasDefault: boolean;
  default: unknown;
  /** What the type reads as for a person: "integer", "list of integers"… */
  typeLabel: string;
}

function types(schema: IJSONSchema): string[] {
  if (Array.isArray(schema.type)) {
    return schema.type;
  }
  return schema.type ? [schema.type] : [];
}

/** Split `X | None` (anyOf with a null option, or type [X, "null"]) into X and nullable. */
function withoutNull(schema: IJSONSchema): {
  schema: IJSONSchema;
  nullable: boolean;
} {
  if (schema.anyOf) {
    const rest = schema.anyOf.filter(
      option => !types(option).includes('null') || types(option).length > 1
    );
    const nullable = rest.length < schema.anyOf.length;
    if (rest.length === 1) {
      const outer = { ...schema };
      delete outer.anyOf;
      return { schema: { ...outer, ...rest[0] }, nullable };
    }
    return { schema: { ...schema, anyOf: rest }, nullable };
  }
  const t = types(schema);
  if (t.length === 2 && t.includes('null')) {
    return {
      schema: { ...schema, type: t.find(x => x !== 'null') },
      nullable: true
    };
  }
  return { schema, nullable: false };
}

function widgetFor(schema: IJSONSchema): Widget {
  if (schema.enum) {
    return 'choice';
  }
  if (schema.anyOf) {
    return 'json';
  }
  const [type, ...more] = types(schema);
  if (more.length || !type) {
    return 'json';
  }
  switch (type) {
    case 'integer':
      return 'integer';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'string':
      return schema.format === 'date'
        ? 'date'
        : schema.format === 'date-time'
          ? 'datetime'
          : schema.format === 'time'
            ? 'time'
            : 'text';
    case 'array': {
      const item = schema.items ? widgetFor(schema.items) : 'json';
      return ['integer', 'number', 'text'].includes(item) ? 'list' : 'json';
    }
    default:
      return 'json';
  }
}

const ARTICLES: Record<string, string> = {
  integer: 'integer',
  number: 'number',
  string: 'text',
  boolean: 'true/false',
  object: 'dict (JSON object)',
  array: 'list',
  null: 'null'
};

export function describeType(schema: IJSONSchema): string {
  if (schema.enum) {
    return `one of ${schema.enum.map(v => JSON.stringify(v)).join(', ')}`;
  }
  if (schema.anyOf) {
    return schema.anyOf.map(describeType).join(' or ');
  }
  const t = types(schema);
  if (!t.length) {
    return 'any JSON value';
  }
  return t
    .map(type => {
      if (type === 'array' && schema.items) {
        return `list of ${describeType(schema.items)}`;
      }
      if (type === 'string' && schema.format) {
        return schema.format;
      }
      return ARTICLES[type] ?? type;
    })
    .join(' or ');
}

/** The form's fields, in the schema's property order. */
export function fieldsOf(
  parameterSchema: IJSONSchema | null | undefined
): IField[] {
  const properties = parameterSchema?.properties ?? {};
  const required = new Set(parameterSchema?.required ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const { schema, nullable } = withoutNull(property);
    return {
      name,
      widget: widgetFor(schema),
      schema,
      required: required.has(name),
      nullable,
      description: property.description ?? '',
      options: schema.enum ?? [],
      hasDefault: 'default' in property,
      default: property.default,
      typeLabel: describeType(schema) + (nullable ? ' or null' : '')
    };
  });
}

/** The text a field shows for a value. */
export function formatValue(field: IField, value: unknown): string {
  if (value === undefined || value === null) {
    return '';
  }
  switch (field.widget) {
    case 'text':
    case 'date':
    case 'time':
      return String(value);
    case 'datetime':
      // <input type="datetime-local"> wants YYYY-MM-DDTHH:MM
      return String(value)
        .replace(/(:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$/, '$1')
        .slice(0, 16);
    case 'integer':
    case 'number':
      return String(value);
    case 'list':
      return Array.isArray(value)
        ? value.map(v => String(v)).join(', ')
        : String(value);
    case 'choice':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return JSON.stringify(value, null, 2);
  }
}

/** The form's first values: each field's text for its default (or the deployment's). */
export function initialValues(
  fields: IField[],
  given: Record<string, unknown> = {}
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const field of fields) {
    const value = field.name in given ? given[field.name] : field.default;
    values[field.name] =
      field.name in given || field.hasDefault ? formatValue(field, value) : '';
  }
  return values;
}

export type Parsed =
  { ok: true; value: unknown; omit: boolean } | { ok: false; error: string };

const isDate = (s: string) =>
  /^\d{4}-\d{2}-\d{2}$/.test(s) && !isNaN(Date.parse(s));

/** Read a field's text as its value, or say why it cannot be. */
export function parseField(field: IField, text: string): Parsed {
  const trimmed = text.trim();
  if (!trimmed && field.widget !== 'text') {
    if (field.nullable) {
      return { ok: true, value: null, omit: false };
    }
    if (field.required) {
      return { ok: false, error: 'Required: this flow has no default for it.' };
    }
    return { ok: true, value: undefined, omit: true };
  }
  switch (field.widget) {
    case 'text':
      if (!text && field.required) {
        return {
          ok: false,
          error: 'Required: this flow has no default for it.'
        };
      }
      return { ok: true, value: text, omit: false };
    case 'integer': {
      const n = Number(trimmed);
      return Number.isInteger(n)
        ? { ok: true, value: n, omit: false }
        : { ok: false, error: `"${trimmed}" is not a whole number.` };
    }
    case 'number': {
      const n = Number(trimmed);
      return isFinite(n)
        ? { ok: true, value: n, omit: false }
        : { ok: false, error: `"${trimmed}" is not a number.` };
    }
    case 'boolean':
      return { ok: true, value: trimmed === 'true', omit: false };
    case 'choice': {
      const found = field.options.find(
        option => JSON.stringify(option) === trimmed
      );
      return found !== undefined || trimmed === 'null'
        ? { ok: true, value: found ?? null, omit: false }
        : {
            ok: false,
            error: `Choose one of ${field.options.map(o => JSON.stringify(o)).join(', ')}.`
          };
    }
    case 'date':
      return isDate(trimmed)
        ? { ok: true, value: trimmed, omit: false }
        : { ok: false, error: 'A date is written YYYY-MM-DD.' };
    case 'time':
      return /^\d{2}:\d{2}(:\d{2})?$/.test(trimmed)
        ? {
            ok: true,
            value: trimmed.length === 5 ? `${trimmed}:00` : trimmed,
            omit: false
          }
        : { ok: false, error: 'A time is written HH:MM or HH:MM:SS.' };
    case 'datetime': {
      const date = new Date(trimmed);
      return isNaN(date.getTime())
        ? { ok: false, error: 'Not a date and time.' }
        : { ok: true, value: date.toISOString(), omit: false };
    }
    case 'list': {
      const item = widgetFor(field.schema.items ?? {});
      const parts = trimmed.startsWith('[')
        ? null
        : trimmed
            .split(',')
            .map(part => part.trim())
            .filter(part => part.length);
      if (parts === null) {
        return parseJSON(field, trimmed);
      }
      const values: unknown[] = [];
      for (const part of parts) {
        if (item === 'text') {
          values.push(part);
          continue;
        }
        const n = Number(part);
        if (!isFinite(n) || (item === 'integer' && !Number.isInteger(n))) {
          return {
            ok: false,
            error: `"${part}" is not ${item === 'integer' ? 'a whole number' : 'a number'}.`
          };
        }
        values.push(n);
      }
      return { ok: true, value: values, omit: false };
    }
    default:
      return parseJSON(field, trimmed);
  }
}

function parseJSON(field: IField, text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (reason) {
    const message = reason instanceof Error ? reason.message : String(reason);
    return { ok: false, error: `Not valid JSON: ${message}` };
  }
  const expected = types(field.schema);
  const actual =
    value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  const fits =
    !expected.length ||
    field.schema.anyOf !== undefined ||
    expected.some(
      t =>
        t === actual ||
        (t === 'integer' && Number.isInteger(value)) ||
        (t === 'number' && actual === 'number')
    );
  if (!fits) {
    return {
      ok: false,
      error: `Expected ${field.typeLabel}, got ${actual === 'array' ? 'a list' : actual === 'object' ? 'an object' : actual}.`
    };
  }
  return { ok: true, value, omit: false };
}

export interface IFormResult {
  /** The parameters to send (fields left empty without a value are omitted). */
  parameters: Record<string, unknown>;
  /** Field name → why its text is not a value. */
  errors: Record<string, string>;
}

/** Every field read: the parameters, and the errors to show before anything is sent. */
export function readForm(
  fields: IField[],
  values: Record<string, string>
): IFormResult {
  const parameters: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const parsed = parseField(field, values[field.name] ?? '');
    if (!parsed.ok) {
      errors[field.name] = parsed.error;
    } else if (!parsed.omit) {
      parameters[field.name] = parsed.value;
    }
  }
  return { parameters, errors };
}
