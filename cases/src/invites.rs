//! What an invite says and how long it lasts: the text a person receives by SMS or WeChat
//! (or that staff copy into their own channel), the notification that carries it, and
//! whether an invite still admits. The link inside the text is a signed join token, which
//! the edge makes and checks (`accord-signaling`); here it is only words.

use std::collections::BTreeMap;

use crate::notify::Notification;
use crate::store::model::{Case, Invite, Organisation, Party, Session};
use crate::store::{ChinaTime, china_time};

/// Invites live three days unless staff say otherwise.
pub const DEFAULT_TTL_HOURS: i64 = 72;
/// And a week at most.
pub const MAX_TTL_HOURS: i64 = 168;

/// The languages an invite's text is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// Simplified Chinese, the default.
    Chinese,
    /// English.
    English,
}

impl Language {
    /// The language a request names (`zh-CN`, `zh`, `en`; Chinese when it names none), or
    /// `None` for any other.
    pub fn from_tag(tag: Option<&str>) -> Option<Self> {
        match tag {
            None | Some("zh-CN" | "zh") => Some(Language::Chinese),
            Some("en") => Some(Language::English),
            Some(_) => None,
        }
    }
}

/// Where an invite stands: `active` (its link admits), `revoked` or `expired`.
pub fn status_of(invite: &Invite, now_seconds: i64) -> &'static str {
    if invite.revoked_at.is_some() {
        "revoked"
    } else if invite.is_active(now_seconds) {
        "active"
    } else {
        "expired"
    }
}

/// Everything an invite's words name: who is invited, to which case's session, by whom.
pub struct Invitation<'a> {
    /// The person invited.
    pub party: &'a Party,
    /// Their case.
    pub case: &'a Case,
    /// The organisation holding the session.
    pub organisation: &'a Organisation,
    /// The session they are invited to.
    pub session: &'a Session,
}

impl Invitation<'_> {
    /// The whole message: greeting, who holds which session when, the link, and until when
    /// it works (`expires_at` in Unix seconds, like the token's `exp`). Times are Beijing
    /// time.
    pub fn text(&self, language: Language, link: &str, expires_at: i64) -> String {
        let (name, org) = (&self.party.name, &self.organisation.name);
        let (title, number) = (&self.case.title, &self.case.number);
        let at = china_time(self.session.scheduled_at);
        let until = china_time(expires_at * 1000);
        match language {
            Language::Chinese => {
                let when =
                    |t: ChinaTime| format!("{}月{}日{:02}:{:02}", t.month, t.day, t.hour, t.minute);
                format!(
                    "{name}您好：{org}定于{}就“{title}”（案号{number}）进行在线视频调解。\
                     请届时用手机浏览器打开以下链接，按提示检查摄像头和麦克风后进入：{link} \
                     此链接仅限您本人使用，{}前有效。",
                    when(at),
                    when(until)
                )
            }
            Language::English => {
                let when = |t: ChinaTime| {
                    format!(
                        "{}-{:02}-{:02} {:02}:{:02}",
                        t.year, t.month, t.day, t.hour, t.minute
                    )
                };
                format!(
                    "Dear {name}, {org} will hold an online video mediation of \"{title}\" \
                     (case {number}) on {} (Beijing time). At that time, open this link in \
                     your phone's browser, check your camera and microphone, and join: {link} \
                     The link is for you only and works until {}.",
                    when(at),
                    when(until)
                )
            }
        }
    }

    /// The `session_invite` message to `phone`: the whole `text` for gateways that send free
    /// text, and its parts for gateways that fill a template of their own.
    pub fn notification(
        &self,
        invite: &Invite,
        phone: String,
        link: String,
        text: String,
    ) -> Notification {
        let at = china_time(self.session.scheduled_at);
        let params = BTreeMap::from([
            ("name", self.party.name.clone()),
            ("organisation", self.organisation.name.clone()),
            ("case_number", self.case.number.clone()),
            (
                "time",
                format!(
                    "{}-{:02}-{:02} {:02}:{:02}",
                    at.year, at.month, at.day, at.hour, at.minute
                ),
            ),
            ("link", link),
        ]);
        Notification {
            template: "session_invite",
            to: phone,
            params,
            text,
            invite_id: Some(invite.id.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Language;

    #[test]
    fn chinese_unless_english_is_asked_for_and_nothing_else_is_taken() {
        assert_eq!(Language::from_tag(None), Some(Language::Chinese));
        assert_eq!(Language::from_tag(Some("zh-CN")), Some(Language::Chinese));
        assert_eq!(Language::from_tag(Some("zh")), Some(Language::Chinese));
        assert_eq!(Language::from_tag(Some("en")), Some(Language::English));
        assert_eq!(Language::from_tag(Some("fr")), None);
    }
}
