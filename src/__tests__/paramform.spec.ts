/** The run form generated from a parameter JSON Schema (what notebooks/parameters.py writes). */
import {
  fieldsOf,
  initialValues,
  parseField,
  readForm
} from '../flow/paramform';

/** The schema of examples/sales-report.ipynb's parameters cell, and one of each other kind. */
const SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    days: { type: 'integer', default: 30, description: 'how many days' },
    ratio: { type: 'number', default: 0.25 },
    name: { type: 'string', default: 'sales' },
    verbose: { type: 'boolean', default: false },
    regions: {
      type: 'array',
      items: { type: 'string' },
      default: ['north', 'south']
    },
    sizes: { type: 'array', items: { type: 'integer' }, default: [1, 2] },
    limits: { type: 'object', default: { low: 1 } },
    mode: { enum: ['fast', 'exact'], default: 'fast' },
    seed: { anyOf: [{ type: 'integer' }, { type: 'null' }], default: null },
    start: { type: 'string', format: 'date' },
    when: {
      type: 'string',
      format: 'date-time',
      default: '2026-01-02T03:04:00Z'
    },
    anything: { default: null },
    token: { type: 'string' }
  },
  required: ['start', 'token'],
  additionalProperties: false
};

describe('fieldsOf', () => {
  const fields = fieldsOf(SCHEMA);
  const byName = Object.fromEntries(fields.map(f => [f.name, f]));

  it.each([
    ['days', 'integer'],
    ['ratio', 'number'],
    ['name', 'text'],
    ['verbose', 'boolean'],
    ['regions', 'list'],
    ['sizes', 'list'],
    ['limits', 'json'],
    ['mode', 'choice'],
    ['seed', 'integer'],
    ['start', 'date'],
    ['when', 'datetime'],
    ['anything', 'json'],
    ['token', 'text']
  ])('gives %s the %s widget', (name, widget) => {
    expect(byName[name].widget).toBe(widget);
  });

  it('keeps the property order, required flags, nullability and descriptions', () => {
    expect(fields.map(f => f.name)).toEqual(Object.keys(SCHEMA.properties));
    expect(byName.start.required).toBe(true);
    expect(byName.days.required).toBe(false);
    expect(byName.seed.nullable).toBe(true);
    expect(byName.seed.typeLabel).toBe('integer or null');
    expect(byName.days.description).toBe('how many days');
    expect(byName.sizes.typeLabel).toBe('list of integer');
    expect(byName.mode.options).toEqual(['fast', 'exact']);
  });

  it('has no fields without a schema', () => {
    expect(fieldsOf({})).toEqual([]);
    expect(fieldsOf(null)).toEqual([]);
  });
});

describe('initialValues', () => {
  it('fills defaults, and a deployment’s parameters over them', () => {
    const fields = fieldsOf(SCHEMA);
    const values = initialValues(fields, { days: 7 });
    expect(values.days).toBe('7');
    expect(values.ratio).toBe('0.25');
    expect(values.regions).toBe('north, south');
    expect(values.limits).toBe('{\n  "low": 1\n}');
    expect(values.mode).toBe('"fast"');
    expect(values.seed).toBe('');
    expect(values.when).toBe('2026-01-02T03:04');
    expect(values.start).toBe('');
  });
});

describe('readForm', () => {
  const fields = fieldsOf(SCHEMA);

  it('reads the defaults back as the same values (a null default is left to the server)', () => {
    const { parameters, errors } = readForm(fields, {
      ...initialValues(fields),
      start: '2026-05-01',
      token: 'abc'
    });
    expect(errors).toEqual({});
    expect(parameters).toEqual({
      days: 30,
      ratio: 0.25,
      name: 'sales',
      verbose: false,
      regions: ['north', 'south'],
      sizes: [1, 2],
      limits: { low: 1 },
      mode: 'fast',
      seed: null,
      start: '2026-05-01',
      when: '2026-01-02T03:04:00.000Z',
      token: 'abc'
    });
  });

  it('explains each bad value on its field before anything is sent', () => {
    const { errors } = readForm(fields, {
      ...initialValues(fields),
      days: 'seven',
      ratio: 'x',
      sizes: '1, two',
      limits: '{"low": ',
      start: '05/01/2026',
      token: ''
    });
    expect(errors.days).toBe('"seven" is not a whole number.');
    expect(errors.ratio).toBe('"x" is not a number.');
    expect(errors.sizes).toBe('"two" is not a whole number.');
    expect(errors.limits).toMatch(/^Not valid JSON/);
    expect(errors.start).toBe('A date is written YYYY-MM-DD.');
    expect(errors.token).toMatch(/^Required/);
  });

  it('refuses JSON of the wrong kind for a dict', () => {
    const limits = fieldsOf(SCHEMA).find(f => f.name === 'limits')!;
    expect(parseField(limits, '[1, 2]')).toEqual({
      ok: false,
      error: 'Expected dict (JSON object), got a list.'
    });
  });

  it('takes a list as JSON too, and leaves its item types to the server', () => {
    const regions = fieldsOf(SCHEMA).find(f => f.name === 'regions')!;
    expect(parseField(regions, '["a", "b"]')).toEqual({
      ok: true,
      value: ['a', 'b'],
      omit: false
    });
  });

  it('omits an empty optional field so the default applies', () => {
    const days = fieldsOf(SCHEMA).find(f => f.name === 'days')!;
    expect(parseField(days, '  ')).toEqual({
      ok: true,
      value: undefined,
      omit: true
    });
  });
});
