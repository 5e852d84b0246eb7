//! Permalinks: a [`Document`] encoded into the page's URL fragment.
//!
//! Format version 1 is `v1.` followed by the document's JSON in unpadded base64url
//! (RFC 4648 §5: `A`–`Z`, `a`–`z`, `0`–`9`, `-`, `_`, no `=`).
//!
//! Links come from anywhere, so [`decode`] checks, in this order, the length, the version
//! prefix, the base64url alphabet and length, UTF-8, and the JSON's fit to [`Document`]
//! (which rejects unknown fields, negative sizes and numbers out of the `f64` range).
//! serde_json's recursion limit of 128 levels stops deeply nested input. The network itself
//! is validated later by `state::build`, like any edited network, and its size budget
//! rejects huge sizes. Every error is a sentence for the page, which shows it as text.

use cnn_core::document::Document;
use serde_json::error::Category;

/// The only format version this page writes and reads.
pub const VERSION: u32 = 1;

/// Maximum length of a fragment (without the `#`) that [`decode`] reads, in bytes.
///
/// A 3×32×32 input with typed weights of conv 8@3×3 → relu → 2×2 max pool → dense 10
/// (21,306 random `f64` values) encodes to 560,829 bytes, and the longest preset link
/// (two-stages) to 1,563 bytes, as `tests/permalink.rs` measures. The limit leaves room for
/// that typed-weights document and keeps a whole URL well below Chromium's `kMaxURLChars`
/// of 2 MiB.
// NOTE: the URL limits of other browsers were not checked.
pub const MAX_LINK_BYTES: usize = 1_000_000;

/// At most this many characters of text taken from a link appear in an error message.
const MAX_QUOTED_CHARS: usize = 12;

/// At most this many characters of a JSON error appear in an error message, because an
/// unknown field name, quoted by serde_json, can be as long as the link.
const MAX_JSON_ERROR_CHARS: usize = 300;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const COPY_AGAIN: &str = "Copy the whole link again.";

/// Encodes a document as a URL fragment payload (without the `#`).
pub fn encode(document: &Document) -> String {
    // A Document has no maps with non-string keys and no serializer that fails, the only
    // ways serde_json's serialization can fail.
    let json = serde_json::to_string(document).expect("a Document serializes to JSON");
    format!("v{VERSION}.{}", base64url_encode(json.as_bytes()))
}

/// Decodes a URL fragment payload (without the `#`).
///
/// Errors: a sentence naming what is wrong with the link: longer than [`MAX_LINK_BYTES`],
/// no version prefix, an unknown version, a character outside base64url, a cut-off
/// payload, bytes that are not UTF-8, or JSON that is not a [`Document`].
pub fn decode(fragment: &str) -> Result<Document, String> {
    if fragment.len() > MAX_LINK_BYTES {
        return Err(format!(
            "the link is too long: {} bytes after the '#', more than the {MAX_LINK_BYTES} a \
             permalink of this page can have.",
            fragment.len()
        ));
    }
    let payload = strip_version(fragment)?;
    let offset = fragment.len() - payload.len();
    let bytes = base64url_decode(payload).map_err(|error| error.message(offset))?;
    let json = String::from_utf8(bytes).map_err(|error| {
        format!(
            "the link is damaged, because its data is not UTF-8 text (invalid byte at offset \
             {}). {COPY_AGAIN}",
            error.utf8_error().valid_up_to()
        )
    })?;
    serde_json::from_str::<Document>(&json).map_err(|error| json_message(&error))
}

/// Returns the payload after a `v1.` prefix.
fn strip_version(fragment: &str) -> Result<&str, String> {
    let no_prefix = || {
        format!("the link does not start with a format version such as 'v{VERSION}.'. {COPY_AGAIN}")
    };
    let rest = fragment.strip_prefix('v').ok_or_else(no_prefix)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (version, payload) = rest.split_at(digits);
    let payload = payload.strip_prefix('.').ok_or_else(no_prefix)?;
    if digits == 0 {
        return Err(no_prefix());
    }
    if version != VERSION.to_string() {
        return Err(format!(
            "the link has format version {}, but this page reads only version {VERSION}. \
             Open it with the page that made it.",
            quote(version)
        ));
    }
    Ok(payload)
}

/// Shortens text from a link to [`MAX_QUOTED_CHARS`] characters.
fn quote(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX_QUOTED_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Describes a JSON error, naming a cut-off link as such.
fn json_message(error: &serde_json::Error) -> String {
    if error.classify() == Category::Eof {
        return format!(
            "the link is cut off, because its data ends in the middle of the document. \
             {COPY_AGAIN}"
        );
    }
    let full = error.to_string();
    let mut text: String = full.chars().take(MAX_JSON_ERROR_CHARS).collect();
    if text.len() < full.len() {
        text.push('…');
    }
    format!("the link does not describe a view of this page: {text}.")
}

/// Encodes `bytes` as unpadded base64url.
fn base64url_encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        // Pack up to 3 bytes into the top 24 bits, then emit one character per 6 bits that
        // carry input: 2, 3 or 4 characters.
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            let index = (group >> (18 - 6 * i)) & 0x3f;
            text.push(char::from(ALPHABET[index as usize]));
        }
    }
    text
}

/// A reason that a payload is not unpadded base64url.
#[derive(Debug, PartialEq, Eq)]
enum Base64Error {
    /// The character at this byte index of the payload is outside the alphabet.
    Character { index: usize, found: char },
    /// The length leaves one character over, which no byte sequence encodes to.
    Length { len: usize },
    /// The last character has bits set that encode no byte, so the link was altered.
    TrailingBits { found: char },
}

impl Base64Error {
    /// Writes the message for a payload that starts `offset` bytes into the fragment.
    fn message(&self, offset: usize) -> String {
        match self {
            Base64Error::Character { index, found } => format!(
                "the link is damaged, because character {} after the '#' ({found:?}) is not a \
                 letter, a digit, '-' or '_'. {COPY_AGAIN}",
                offset + index + 1
            ),
            Base64Error::Length { len } => format!(
                "the link is cut off, because its data has {len} characters, one more than any \
                 encoded data can have. {COPY_AGAIN}"
            ),
            Base64Error::TrailingBits { found } => format!(
                "the link is damaged, because its last character ({found:?}) is not one that \
                 this page writes there. {COPY_AGAIN}"
            ),
        }
    }
}

/// Decodes unpadded base64url, rejecting any text [`base64url_encode`] cannot produce.
fn base64url_decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let mut sextets = Vec::with_capacity(text.len());
    for (index, found) in text.char_indices() {
        let value = match found {
            'A'..='Z' => found as u8 - b'A',
            'a'..='z' => found as u8 - b'a' + 26,
            '0'..='9' => found as u8 - b'0' + 52,
            '-' => 62,
            '_' => 63,
            _ => return Err(Base64Error::Character { index, found }),
        };
        sextets.push(value);
    }
    if sextets.len() % 4 == 1 {
        return Err(Base64Error::Length { len: sextets.len() });
    }

    let mut bytes = Vec::with_capacity(sextets.len() / 4 * 3 + 2);
    for chunk in sextets.chunks(4) {
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &s)| acc | u32::from(s) << (18 - 6 * i));
        let byte_count = chunk.len() - 1;
        // A short final group carries 2 or 4 bits beyond its bytes, and the encoder leaves
        // them 0.
        let unused_bits = 24 - 8 * byte_count;
        if chunk.len() < 4 && group & ((1 << unused_bits) - 1) != 0 {
            let last = char::from(ALPHABET[usize::from(chunk[chunk.len() - 1])]);
            return Err(Base64Error::TrailingBits { found: last });
        }
        for i in 0..byte_count {
            bytes.push((group >> (16 - 8 * i)) as u8);
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_matches_rfc_4648_vectors() {
        // RFC 4648 §10, without the padding and with the URL alphabet.
        let vectors = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64url_encode(plain.as_bytes()), encoded, "{plain:?}");
            assert_eq!(
                base64url_decode(encoded).as_deref(),
                Ok(plain.as_bytes()),
                "{encoded:?}"
            );
        }
    }

    #[test]
    fn encode_uses_url_alphabet() {
        assert_eq!(base64url_encode(&[0xfb, 0xff, 0xbf]), "-_-_");
        assert_eq!(base64url_decode("-_-_"), Ok(vec![0xfb, 0xff, 0xbf]));
    }

    #[test]
    fn decode_round_trips_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        for end in 0..bytes.len() {
            let text = base64url_encode(&bytes[..end]);
            assert_eq!(base64url_decode(&text).as_deref(), Ok(&bytes[..end]));
        }
    }

    #[test]
    fn decode_rejects_padding_and_standard_alphabet() {
        assert_eq!(
            base64url_decode("Zg=="),
            Err(Base64Error::Character {
                index: 2,
                found: '='
            })
        );
        assert_eq!(
            base64url_decode("ab+/"),
            Err(Base64Error::Character {
                index: 2,
                found: '+'
            })
        );
    }

    #[test]
    fn decode_rejects_length_and_trailing_bits() {
        assert_eq!(
            base64url_decode("Zm9vY"),
            Err(Base64Error::Length { len: 5 })
        );
        // "Zh" sets bits below the single byte that "Zg" encodes.
        assert_eq!(
            base64url_decode("Zh"),
            Err(Base64Error::TrailingBits { found: 'h' })
        );
        assert_eq!(
            base64url_decode("Zm9"),
            Err(Base64Error::TrailingBits { found: '9' })
        );
    }

    #[test]
    fn quote_shortens_long_text() {
        assert_eq!(quote("12"), "12");
        assert_eq!(quote("1234567890123456"), "123456789012…");
    }
}
