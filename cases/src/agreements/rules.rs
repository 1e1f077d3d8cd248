//! The rules an agreement keeps, each with the machine-readable code clients act on. The
//! domain names the rule; `accord-signaling` maps its [`RuleKind`] to an HTTP status once.

/// How the edge should answer a broken rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    /// The request does not fit the agreement's state now (409).
    Conflict,
    /// The caller may not do this (403).
    Forbidden,
    /// What was sent is wrong (422).
    Invalid,
}

/// A rule of drafting, finalising, signing or sealing that a request broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// The case has an agreement already.
    AgreementExists,
    /// The agreement is in force; its text no longer changes.
    InForce,
    /// Signing needs a finalised version.
    NotFinal,
    /// The signed payload names a version or text hash that is not the current final one.
    VersionOutdated,
    /// The case concerns marriage, adoption or inheritance status: no e-signing (电子签名法 第三条).
    NotESignable,
    /// The signature was made with a key other than the one registered for this signer.
    KeyNotRegistered,
    /// A representative signs only with a power of attorney on file.
    AttorneyLetterMissing,
    /// A party signs only after their free-will answer was recorded for this version.
    FreeWillMissing,
    /// The signer's identity was not checked for this version (one-time code or attestation).
    IdentityUnchecked,
    /// The free-will question is asked with the party alone with the mediator.
    NotAlone,
    /// The one-time code is wrong or expired.
    WrongCode,
    /// The mediator has not attested this signer on camera.
    AttestationMissing,
    /// The signature does not verify over the payload with the registered key.
    BadSignature,
    /// The signing challenge is unknown, used or expired.
    ChallengeExpired,
    /// This signer has signed or declined this version already.
    AlreadyDecided,
    /// Sealing needs every required party's and the mediator's signature.
    SignaturesMissing,
    /// The caller is not a signer of this agreement.
    NotASigner,
    /// The case's parties have no phone on record for a one-time code.
    NoPhoneOnRecord,
    /// Judicial confirmation is applied for only from an agreement in force.
    NotInForce,
    /// The 30 days for applying for judicial confirmation (人民调解法 第三十三条) are over.
    WindowClosed,
    /// Courts do not confirm agreements on identity, adoption or marriage (法释〔2011〕5号 第四条).
    NotConfirmable,
    /// The request has left the parties' hands; its court and applicants no longer change.
    RequestSubmitted,
    /// The court's decision does not fit the request's state (e.g. confirming before accepting).
    RequestState,
    /// The caller is not a party (or a representative of one) who applies.
    NotAnApplicant,
    /// A party keeps at most [`crate::store::model::MAX_IDENTITY_PROOFS`] proofs of identity.
    TooManyIdentityProofs,
}

impl Rule {
    /// The machine-readable code, as sent in `{code, message}`.
    pub fn code(self) -> &'static str {
        match self {
            Rule::AgreementExists => "agreement_exists",
            Rule::InForce => "agreement_in_force",
            Rule::NotFinal => "agreement_not_final",
            Rule::VersionOutdated => "version_outdated",
            Rule::NotESignable => "not_e_signable",
            Rule::KeyNotRegistered => "key_not_registered",
            Rule::AttorneyLetterMissing => "attorney_letter_missing",
            Rule::FreeWillMissing => "free_will_missing",
            Rule::IdentityUnchecked => "identity_unchecked",
            Rule::NotAlone => "not_alone",
            Rule::WrongCode => "wrong_code",
            Rule::AttestationMissing => "attestation_missing",
            Rule::BadSignature => "bad_signature",
            Rule::ChallengeExpired => "challenge_expired",
            Rule::AlreadyDecided => "already_decided",
            Rule::SignaturesMissing => "signatures_missing",
            Rule::NotASigner => "not_a_signer",
            Rule::NoPhoneOnRecord => "no_phone_on_record",
            Rule::NotInForce => "agreement_not_in_force",
            Rule::WindowClosed => "confirmation_window_closed",
            Rule::NotConfirmable => "not_confirmable",
            Rule::RequestSubmitted => "request_submitted",
            Rule::RequestState => "request_state",
            Rule::NotAnApplicant => "not_an_applicant",
            Rule::TooManyIdentityProofs => "too_many_identity_proofs",
        }
    }

    /// For people.
    pub fn message(self) -> &'static str {
        match self {
            Rule::AgreementExists => "this case has an agreement already",
            Rule::InForce => "the agreement is in force and can no longer be changed",
            Rule::NotFinal => "the agreement has no final version to sign yet",
            Rule::VersionOutdated => {
                "the agreement has changed since this text was shown; read the new version"
            }
            Rule::NotESignable => {
                "agreements on marriage, adoption or inheritance status cannot be signed electronically"
            }
            Rule::KeyNotRegistered => {
                "this device's signing key is not the one registered for this signer"
            }
            Rule::AttorneyLetterMissing => {
                "a representative signs only with a power of attorney on file"
            }
            Rule::FreeWillMissing => {
                "the mediator has not yet asked this party, alone, whether they sign freely"
            }
            Rule::IdentityUnchecked => "confirm your identity before signing",
            Rule::NotAlone => "ask this question with the party alone with the mediator",
            Rule::WrongCode => "the code is wrong or has expired",
            Rule::AttestationMissing => "the mediator has not confirmed this person on camera",
            Rule::BadSignature => "the signature does not verify",
            Rule::ChallengeExpired => "the signing request expired; sign again",
            Rule::AlreadyDecided => "this signer has already signed or declined this version",
            Rule::SignaturesMissing => "not everyone who must sign has signed",
            Rule::NotASigner => "you are not a signer of this agreement",
            Rule::NoPhoneOnRecord => "there is no phone on record to send a code to",
            Rule::NotInForce => {
                "judicial confirmation is applied for once the agreement is in force"
            }
            Rule::WindowClosed => {
                "the 30 days for applying for judicial confirmation have passed (人民调解法 第三十三条); \
                 the parties may sue, or reach a new agreement"
            }
            Rule::NotConfirmable => {
                "courts do not confirm agreements on marriage, adoption or inheritance status"
            }
            Rule::RequestSubmitted => {
                "the request has been submitted to the court and no longer changes"
            }
            Rule::RequestState => "the request is not at a step where this decision can be made",
            Rule::NotAnApplicant => {
                "only a party of the agreement, or their representative, applies"
            }
            Rule::TooManyIdentityProofs => {
                "a party keeps at most 4 proofs of identity; remove one before adding another"
            }
        }
    }

    /// How the edge answers it.
    pub fn kind(self) -> RuleKind {
        match self {
            Rule::KeyNotRegistered
            | Rule::AttorneyLetterMissing
            | Rule::NotASigner
            | Rule::NotAnApplicant => RuleKind::Forbidden,
            Rule::WrongCode | Rule::BadSignature => RuleKind::Invalid,
            _ => RuleKind::Conflict,
        }
    }
}
