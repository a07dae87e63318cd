/** What the UI says about refusals, and which form field a refusal belongs to. */
import { FlowsAPIError } from '../api';
import { describeError, parameterErrors } from '../errors';

describe('parameterErrors', () => {
  it('puts each part of an invalid_parameters message on the field it names', () => {
    const error = new FlowsAPIError(
      400,
      'invalid_parameters',
      "parameter 'days': 'seven' is not of type 'integer'; parameter 'token' is required; parameters: bad"
    );
    expect(parameterErrors(error)).toEqual({
      days: "'seven' is not of type 'integer'",
      token: 'is required',
      '': 'parameters: bad'
    });
  });

  it('keeps the first message of a field named twice', () => {
    const error = new FlowsAPIError(
      400,
      'invalid_parameters',
      "parameter 'xs': 1 is not of type 'string'; parameter 'xs': 2 is not of type 'string'"
    );
    expect(parameterErrors(error)).toEqual({ xs: "1 is not of type 'string'" });
  });

  it.each([
    new FlowsAPIError(400, 'invalid_input', "parameter 'x': nope"),
    new Error("parameter 'x': nope"),
    'text'
  ])('is null for anything but invalid_parameters (%p)', reason => {
    expect(parameterErrors(reason)).toBeNull();
  });
});

describe('describeError', () => {
  it('adds advice where the message alone does not say what to do', () => {
    expect(
      describeError(new FlowsAPIError(401, 'unauthorized', 'no key'))
    ).toBe(
      'no key — The server refused the credentials. Check the API key in Settings › Flows.'
    );
    expect(
      describeError(new FlowsAPIError(0, 'network_error', 'Failed to fetch'))
    ).toMatch(/^The server cannot be reached/);
  });

  it('passes the server message through otherwise', () => {
    expect(
      describeError(new FlowsAPIError(404, 'not_found', "No flow 'x'"))
    ).toBe("No flow 'x'");
    expect(describeError(new Error('boom'))).toBe('boom');
  });
});
