/**
 * Text of unknown values for messages.
 *
 * @internal
 */

/**
 * The message of any failure: an error's `message` (or its `_tag`), a string as is, anything else as
 * JSON (or `String` when it has none).
 *
 * @internal
 */
export const errorMessage = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const message = "message" in error && typeof error.message === "string" ? error.message : ""
    if (message !== "") return message
    if ("_tag" in error && typeof error._tag === "string") return error._tag
  }
  if (typeof error === "string") return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/**
 * `text` on one line: line breaks and the spaces around them become one space.
 *
 * @internal
 */
export const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ").trim()
