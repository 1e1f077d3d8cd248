// JSON text exactly as Rust's serde_json writes it, for values a package hashes (the audit
// chain hashes `serde_json::json!([seq, at, actor, action, subject, detail, prev_hash])`).
// serde_json escapes only `"`, `\` and the control characters below U+0020 (the five short
// forms, else `\u00xx` in lowercase hex) and writes everything else, non-ASCII, U+2028 and
// `/` included, as it is. JSON.stringify agrees on those, but also turns a lone surrogate into
// `\udxxx`; Rust strings cannot hold one, so a decoded package never has one either, and here
// it is replaced by U+FFFD as a UTF-8 decoder would. Writing it out keeps the two sides equal
// by construction instead of by a reading of two specifications.

/** What this encoder writes: strings, safe integers, and arrays of them. */
export type SerdeValue = string | number | SerdeValue[];

const SHORT: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\' };

/** A string literal as serde_json writes it. */
export function serdeString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const short = SHORT[unit];
    if (short) out += short;
    else if (unit < 0x20) out += `\\u00${unit.toString(16).padStart(2, '0')}`;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
      out += text[i] + text[i + 1];
      i++;
    } else if (unit >= 0xd800 && unit <= 0xdfff) out += '\uFFFD';
    else out += text[i];
  }
  return `${out}"`;
}

function isLow(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** A value as `serde_json::to_string` writes it (compact, no spaces). */
export function serdeJson(value: SerdeValue): string {
  if (typeof value === 'string') return serdeString(value);
  if (typeof value === 'number') {
    // The hashed numbers are i64 counters and Unix ms: a fraction or an unsafe integer
    // would not round-trip through serde_json as written here, so it is refused.
    if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer serde_json would write alike: ${value}`);
    return String(value);
  }
  return `[${value.map(serdeJson).join(',')}]`;
}
