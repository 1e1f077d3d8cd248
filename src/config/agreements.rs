//! Which font agreement PDFs are set in. A missing font does not stop the service: sealing
//! still puts an agreement in force, and its PDF is made on the first download once the font
//! is there. A font named explicitly must exist, so a typo is found at start-up.

use accord_cases::agreements::pdf::{DEFAULT_FONT_INDEX, DEFAULT_FONT_PATH};
use accord_signaling::agreements::pdf::AgreementFont;

use super::{Config, ConfigError, invalid};

impl Config {
    /// The agreement font of `[agreements]`.
    pub fn agreement_font(&self) -> AgreementFont {
        let section = &self.agreements;
        if section.font_path.as_os_str().is_empty() {
            AgreementFont {
                path: DEFAULT_FONT_PATH.into(),
                index: section.font_index.unwrap_or(DEFAULT_FONT_INDEX),
            }
        } else {
            AgreementFont {
                path: section.font_path.clone(),
                index: section.font_index.unwrap_or(0),
            }
        }
    }

    pub(super) fn validate_agreements(&self) -> Result<(), ConfigError> {
        let path = &self.agreements.font_path;
        if !path.as_os_str().is_empty() && !path.is_file() {
            return Err(invalid(
                "agreements.font_path",
                format!(
                    "{} is not a font file; install fonts-noto-cjk and leave this empty, or name an OpenType CJK font",
                    path.display()
                ),
            ));
        }
        Ok(())
    }
}
