//! Which court the parties apply to (民事诉讼法 2023 年修正 第二百零五条): the court that
//! invited the mediation, otherwise a basic-level court where a party lives, where the subject
//! matter is, or where the mediation organisation sits. Accord keeps organisations' courts,
//! not parties' addresses as courts, so it proposes the first kind it knows and lists the
//! others for the mediator, who may choose another court with a reason.

use serde::Serialize;

use crate::store::model::{Case, Channel, Organisation};

/// Why a court was proposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CourtBasis {
    /// A court-annexed organisation's inviting court (委派调解的人民法院).
    #[serde(rename = "inviting_court")]
    InvitingCourt,
    /// The basic-level court where the mediation organisation sits.
    #[serde(rename = "organisation_seat")]
    OrganisationSeat,
}

impl CourtBasis {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            CourtBasis::InvitingCourt => "inviting_court",
            CourtBasis::OrganisationSeat => "organisation_seat",
        }
    }

    /// Parses a stored name; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "inviting_court" => Some(CourtBasis::InvitingCourt),
            "organisation_seat" => Some(CourtBasis::OrganisationSeat),
            _ => None,
        }
    }
}

/// The court Accord proposes, and a note on the other competent courts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Proposal {
    /// The proposed court; `None` when the organisation has none configured and the
    /// mediator must choose.
    pub court: Option<String>,
    /// Why it was proposed; `None` with no proposal.
    pub basis: Option<CourtBasis>,
    /// For the mediator, in Chinese: the other courts the parties may apply to.
    pub note: String,
}

/// The proposal for `case`, mediated by `org`.
pub fn propose(org: &Organisation, case: &Case) -> Proposal {
    let court = org
        .court
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let basis = court.as_ref().map(|_| match org.channel {
        Channel::CourtAnnexed => CourtBasis::InvitingCourt,
        Channel::Peoples | Channel::Administrative => CourtBasis::OrganisationSeat,
    });
    let first = match (&court, basis) {
        (Some(court), Some(CourtBasis::InvitingCourt)) => {
            format!("本案由{court}委派调解，向该院申请。")
        }
        (Some(court), _) => format!("建议向调解组织所在地的{court}申请。"),
        (None, _) => "调解组织未设定法院，请调解员选择有管辖权的基层人民法院。".to_owned(),
    };
    let region = case.region.trim();
    let seat = if region.is_empty() {
        String::new()
    } else {
        format!("调解组织所在地为{region}；")
    };
    Proposal {
        court,
        basis,
        note: format!(
            "{first}{seat}当事人住所地、标的物所在地的基层人民法院亦有管辖权\
             （民事诉讼法第二百零五条），如需变更请注明理由。"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::{CaseStatus, Category, Risk};

    fn org(channel: Channel, court: Option<&str>) -> Organisation {
        Organisation {
            id: "OR_x".into(),
            name: "新安街道人民调解委员会".into(),
            short_name: "宝安".into(),
            region: "新安街道".into(),
            channel,
            court: court.map(str::to_owned),
            created_at: 0,
            record_private_rooms: false,
            recording_retention_days: None,
        }
    }

    fn case() -> Case {
        Case {
            id: "CA_x".into(),
            number: "2026-宝安-000001".into(),
            organisation_id: "OR_x".into(),
            mediator_id: None,
            category: Category::Neighbours,
            channel: Channel::Peoples,
            region: "新安街道".into(),
            risk: Risk::Blue,
            status: CaseStatus::Signed,
            title: "楼上漏水纠纷".into(),
            facts: String::new(),
            claims: String::new(),
            tracking_code: None,
            court: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_court_annexed_organisation_goes_back_to_its_inviting_court() {
        let p = propose(&org(Channel::CourtAnnexed, Some("宝安区人民法院")), &case());
        assert_eq!(p.court.as_deref(), Some("宝安区人民法院"));
        assert_eq!(p.basis, Some(CourtBasis::InvitingCourt));
        assert!(p.note.contains("委派调解"));
        assert!(p.note.contains("当事人住所地、标的物所在地"));
    }

    #[test]
    fn other_organisations_propose_the_court_where_they_sit() {
        for channel in [Channel::Peoples, Channel::Administrative] {
            let p = propose(&org(channel, Some("宝安区人民法院")), &case());
            assert_eq!(p.court.as_deref(), Some("宝安区人民法院"));
            assert_eq!(p.basis.map(CourtBasis::as_str), Some("organisation_seat"));
            assert!(p.note.contains("新安街道"));
        }
    }

    #[test]
    fn without_a_court_the_mediator_chooses() {
        for court in [None, Some("  ")] {
            let p = propose(&org(Channel::Peoples, court), &case());
            assert_eq!((p.court, p.basis), (None, None));
            assert!(p.note.contains("请调解员选择"));
        }
    }

    #[test]
    fn bases_read_back_from_their_names() {
        for basis in [CourtBasis::InvitingCourt, CourtBasis::OrganisationSeat] {
            assert_eq!(CourtBasis::parse(basis.as_str()), Some(basis));
        }
        assert_eq!(CourtBasis::parse("residence"), None);
    }
}
