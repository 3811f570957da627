//! The two languages every user-visible message exists in.

use serde::{Deserialize, Serialize};

/// A user-facing language. Every message the product shows exists in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Lang {
    /// Simplified Chinese (zh-CN).
    #[default]
    #[serde(rename = "zh")]
    Zh,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// Picks the language from a locale tag such as `zh-CN`, `zh_CN.UTF-8` or `en-US`.
    /// Anything that is not Chinese falls back to English.
    pub fn from_locale(tag: &str) -> Lang {
        if tag.trim().to_ascii_lowercase().starts_with("zh") { Lang::Zh } else { Lang::En }
    }

    /// Parses `zh`, `zh-CN`, `en`, … as given on a command line.
    pub fn parse(s: &str) -> Option<Lang> {
        let t = s.trim().to_ascii_lowercase();
        if t.starts_with("zh") {
            Some(Lang::Zh)
        } else if t.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// Chooses between the Chinese and the English text.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_tags() {
        assert_eq!(Lang::from_locale("zh-CN"), Lang::Zh);
        assert_eq!(Lang::from_locale("zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(Lang::from_locale("en-US"), Lang::En);
        assert_eq!(Lang::from_locale("de-DE"), Lang::En);
        assert_eq!(Lang::parse("EN"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }
}
