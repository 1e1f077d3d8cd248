//! Names for the records of the case side, so a party id is never passed where a case id is
//! meant. Each is an opaque string: a type prefix, `_` and 16 random characters
//! ([`crate::store::new_id`]), stored as text in both databases and written as a plain JSON
//! string, exactly as the bare `String`s they replace were. An id reads as text wherever
//! text is wanted (it derefs to `str`); text becomes an id only by saying which
//! (`CaseId::from(..)`), so a `&PartyId` never passes for a `&CaseId`.

use std::borrow::Borrow;
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier read from elsewhere (a URL, a token, a form).
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The identifier as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<&String> for $name {
            fn from(value: &String) -> Self {
                Self(value.clone())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Reading an id as text is always safe (logs, URLs, tokens, `as_deref`); only the
        // other way, text into an id, has to be written out.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        // Lets maps keyed by the id be looked up with the text of one.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

string_id!(
    /// A case (`CA_…`): one dispute, from intake to closing.
    CaseId
);
string_id!(
    /// A scheduled video session of a case (`SE_…`).
    SessionId
);
string_id!(
    /// A party of a case, or someone acting for one (`PT_…`). Also a party's identity in a
    /// media room and the `sub` of their join token.
    PartyId
);
string_id!(
    /// A staff account (`ST_…`). Also a mediator's identity in a media room.
    StaffId
);
string_id!(
    /// A mediation organisation (`OR_…`).
    OrganisationId
);
string_id!(
    /// An invite of one party to one session (`IN_…`), the `inv` claim of its join token.
    InviteId
);
string_id!(
    /// An evidence file's record (`EV_…`).
    EvidenceId
);
string_id!(
    /// One entry of a session's record (笔录) (`SV_…`).
    SessionEventId
);
string_id!(
    /// A party's consent to online mediation (`CO_…`).
    ConsentId
);
string_id!(
    /// A recording of a session (`RC_…`): also the name of its folder of files.
    RecordingId
);

string_id!(
    /// A case's agreement (`AG_…`, 调解协议书), across all its versions.
    AgreementId
);

string_id!(
    /// One signature or refusal to sign an agreement version (`SG_…`).
    SignatureId
);

string_id!(
    /// A comment on a clause of an agreement (`CM_…`).
    CommentId
);

string_id!(
    /// A private draft of an agreement (`PD_…`), drafted by the mediator in a caucus.
    DraftId
);

string_id!(
    /// A request for judicial confirmation (`CR_…`, 司法确认申请) of an agreement in force:
    /// the parties' joint application, its package and the court's decisions.
    ConfirmationRequestId
);

string_id!(
    /// A party's proof of identity (`IP_…`, 身份证明): an ID card side, a passport, a
    /// business licence, uploaded for the confirmation package and sealed at rest.
    IdentityProofId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_strings_in_json_and_text() {
        let id = CaseId::from("CA_abc");
        assert_eq!(serde_json::to_string(&id).expect("serialise"), "\"CA_abc\"");
        let back: PartyId = serde_json::from_str("\"PT_x\"").expect("deserialise");
        assert_eq!(back, "PT_x");
        assert_eq!(id.to_string(), "CA_abc");
        assert_eq!(format!("case:{id}"), "case:CA_abc");
    }
}
