// Calls a service on behalf of the request's caller and maps its errors.
import { callOptions, type Caller } from "./services.js";
import { fromServiceError } from "./errors.js";

export async function call<T>(caller: Caller, run: (options: ReturnType<typeof callOptions>) => Promise<T>): Promise<T> {
  try {
    return await run(callOptions(caller));
  } catch (error) {
    throw fromServiceError(error);
  }
}
