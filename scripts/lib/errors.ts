/**
 * One error type for everything a user can get wrong. It carries what is wrong and what to do,
 * so the CLI can print both and exit non-zero without a stack trace. Anything else is a bug and
 * is printed with its stack.
 */
export class UserError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(message: string, hint?: string, exitCode = 2) {
    super(message);
    this.name = 'UserError';
    this.hint = hint;
    this.exitCode = exitCode;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/** Render an error the way the CLI prints it (also used by --json output). */
export function describeError(e: unknown): { message: string; hint?: string } {
  if (isUserError(e)) return e.hint ? { message: e.message, hint: e.hint } : { message: e.message };
  if (e instanceof Error) return { message: e.stack ?? e.message };
  return { message: String(e) };
}
