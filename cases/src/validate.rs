//! Validation the domain owns, whatever the request came through: field problems collected
//! so a form learns everything wrong with it at once ([`Problems`]), and the checks of
//! Chinese phone and resident ID numbers.

use crate::error::{Error, FieldError, Result};

/// Collects field problems so a form learns everything wrong with it at once.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    /// Notes that `field` is wrong and why.
    pub fn add(&mut self, field: impl Into<std::borrow::Cow<'static, str>>, message: &str) {
        self.0.push(FieldError::new(field, message));
    }

    /// A required text of at most `max_chars`, trimmed.
    pub fn text(&mut self, field: &str, value: Option<&str>, max_chars: usize) -> String {
        let text = value.map(str::trim).unwrap_or_default();
        if text.is_empty() {
            self.add(field.to_owned(), "required");
        } else if text.chars().count() > max_chars {
            self.add(field.to_owned(), &format!("at most {max_chars} characters"));
        }
        text.to_owned()
    }

    /// An optional text of at most `max_chars`; empty counts as absent.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max_chars: usize,
    ) -> Option<String> {
        let text = value.map(str::trim).filter(|t| !t.is_empty())?;
        if text.chars().count() > max_chars {
            self.add(field.to_owned(), &format!("at most {max_chars} characters"));
        }
        Some(text.to_owned())
    }

    /// A required value of a text enumeration.
    pub fn choice<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl Fn(&str) -> Result<T>,
        allowed: &str,
    ) -> Option<T> {
        match value.map(str::trim) {
            None | Some("") => {
                self.add(field.to_owned(), "required");
                None
            }
            Some(text) => match parse(text) {
                Ok(v) => Some(v),
                Err(_) => {
                    self.add(field.to_owned(), &format!("one of: {allowed}"));
                    None
                }
            },
        }
    }

    /// [`Error::Invalid`] with every problem noted, or nothing if there was none.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.0))
        }
    }
}

/// Digits only, without the country code people often type.
pub fn normalise_phone(phone: &str) -> String {
    let digits: String = phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    digits
        .strip_prefix("+86")
        .or_else(|| digits.strip_prefix("0086"))
        .unwrap_or(&digits)
        .to_owned()
}

/// A mainland mobile number: 11 digits, `1` then `3`–`9`.
pub fn is_mobile(phone: &str) -> bool {
    let b = phone.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && all_digits(phone)
}

/// An area code (0 and 2–3 digits) and a 7–8 digit local number.
pub fn is_landline(phone: &str) -> bool {
    phone.starts_with('0') && (10..=12).contains(&phone.len()) && all_digits(phone)
}

fn all_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

/// A resident ID number (GB 11643-1999) with a correct check character.
pub fn is_id_number(id: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    // Bytes, never `str` slices: an 18-byte value with a multi-byte character in it has no
    // character boundary at 17.
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] == bytes[17]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_byte_id_numbers_are_refused_not_sliced() {
        assert!(!is_id_number("1234567890123456é"));
        assert!(!is_id_number("12345678901234567é"));
        assert!(!is_id_number("身份证号码是十八个字"));
        assert!(is_id_number("11010519491231002X"));
    }

    #[test]
    fn landlines_are_accepted_for_the_other_side() {
        assert!(is_landline("075523456789"));
        assert!(is_mobile("19912345678"));
        assert!(!is_mobile("12912345678"));
    }
}
