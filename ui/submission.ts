/**
 * A form's one-shot submission to the API: `busy` while the action runs (the submit button is disabled)
 * and the failure's message in `error`. On success the form goes away (its caller moves on), so it stays
 * busy and cannot be sent twice; after a failure it shows the message and can be sent again.
 */
import { useState } from 'preact/hooks';
import { messageOf } from './api.ts';

export interface Submission {
  readonly busy: boolean;
  readonly error: string | null;
  /** The form's onSubmit. */
  readonly submit: (event: Event) => Promise<void>;
}

export function useSubmission(action: () => Promise<void>): Submission {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (failure) {
      setError(messageOf(failure));
      setBusy(false);
    }
  };
  return { busy, error, submit };
}
