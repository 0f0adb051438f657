/** Server-side name for the shared error type; see proto/errors.ts. */
export { AppError, isAppError, toAppError } from "../proto/errors.ts";
