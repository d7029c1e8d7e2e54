// Parsing a proof document's JSON text as docs/spec/documents.md requires ("Parsing" and
// "Verification" step 4), where `JSON.parse` is lenient: an object that repeats a key is
// refused (JSON.parse keeps the last one, so a reader of the text could see another value
// than the one verified), and so is a number written with a fraction or an exponent (every
// number of a document is an integer, and `6.0` or `6e0` is not the integer 6 there), an
// integer beyond the range a JavaScript number holds exactly (unless `bigints`: then it is
// read exactly, as a BigInt), an integer of more than 40 digits (refused before it is
// converted), and a document of more than 40 MiB. Layout (whitespace, key
// order, string escapes) is free.
//
// Pure module: no DOM, no network (imported by proof.js; runs under Node in the tests).

import { fail } from "./proof.js";

const MAX_DOCUMENT_BYTES = 40 << 20;
const MAX_DEPTH = 256; // no valid document nests deeper than 40 (contract values stop at 32)
const MAX_INTEGER_DIGITS = 40; // no integer of a valid document has more (a total power: 25)
const ESCAPE = /\\(?:["\\\/bfnrt]|u[0-9a-fA-F]{4})/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

// A document file's text: its bytes MUST be UTF-8 (an invalid sequence is refused, not
// replaced by U+FFFD) and a leading byte-order mark is kept, so that the parser refuses
// it as it is not JSON whitespace (documents.md#parsing) — where `new TextDecoder()`, and
// `Response.text()`, would drop it silently.
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function documentText(bytes) {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch (e) {
    fail("the document is not UTF-8 text");
    return "";
  }
}

function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

export function parseDocumentJson(text, bigints = false) {
  if (typeof text !== "string") fail("the document is not JSON");
  // a character is 1 to 3 bytes of UTF-8 (a surrogate pair 4 for 2)
  if (text.length > MAX_DOCUMENT_BYTES || (text.length * 3 > MAX_DOCUMENT_BYTES && utf8Length(text) > MAX_DOCUMENT_BYTES)) {
    fail("the document is larger than 40 MiB");
  }
  let pos = 0;
  const notJson = () => fail("the document is not JSON");
  const match = (re) => {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (m) pos = re.lastIndex;
    return m;
  };
  const space = () => match(WHITESPACE);
  const literal = (word, v) => {
    if (!text.startsWith(word, pos)) notJson();
    pos += word.length;
    return v;
  };
  // A string token, scanned character by character: a regular expression over it (one
  // backtracking step per character) overflows V8's stack on a string of about 8 million
  // characters, such as the `raw` of a bundle of a few MiB.
  const string = () => {
    const start = pos++;
    for (;;) {
      if (pos >= text.length) notJson();
      const c = text.charCodeAt(pos);
      if (c === 0x22) break; // the closing quote
      if (c < 0x20) notJson();
      if (c === 0x5c) {
        ESCAPE.lastIndex = pos;
        if (!ESCAPE.test(text)) notJson();
        pos = ESCAPE.lastIndex;
      } else {
        pos++;
      }
    }
    pos++;
    return JSON.parse(text.slice(start, pos));
  };
  const number = () => {
    const m = match(NUMBER);
    if (!m) notJson();
    if (m[1] !== undefined || m[2] !== undefined) {
      fail("the document writes a number with a fraction or an exponent");
    }
    // refused before it is converted (a BigInt of millions of digits takes seconds)
    if (m[0].length - (m[0][0] === "-" ? 1 : 0) > MAX_INTEGER_DIGITS) {
      fail("the document holds an integer of more than %(n)s digits", { n: MAX_INTEGER_DIGITS });
    }
    const n = Number(m[0]);
    if (Number.isSafeInteger(n)) return n;
    if (bigints) return BigInt(m[0]);
    fail("a proven integer is too large for the browser verifier");
  };
  // items of an array or members of an object, up to `close`
  const items = (close, one) => {
    pos++;
    space();
    if (text[pos] === close) {
      pos++;
      return;
    }
    for (;;) {
      one();
      space();
      const c = text[pos++];
      if (c === close) return;
      if (c !== ",") notJson();
      space();
    }
  };
  function value(depth) {
    if (depth > MAX_DEPTH) fail("the document is nested too deeply");
    space();
    const c = text[pos];
    if (c === "{") {
      const out = {};
      items("}", () => {
        if (text[pos] !== '"') notJson();
        const key = string();
        if (Object.hasOwn(out, key)) fail("the document repeats the key %(key)s", { key });
        space();
        if (text[pos++] !== ":") notJson();
        // an own property whatever the key (also "__proto__")
        Object.defineProperty(out, key, {
          value: value(depth + 1), enumerable: true, writable: true, configurable: true,
        });
      });
      return out;
    }
    if (c === "[") {
      const out = [];
      items("]", () => out.push(value(depth + 1)));
      return out;
    }
    if (c === '"') return string();
    if (c === "t") return literal("true", true);
    if (c === "f") return literal("false", false);
    if (c === "n") return literal("null", null);
    return number();
  }
  const v = value(0);
  space();
  if (pos !== text.length) notJson();
  return v;
}
