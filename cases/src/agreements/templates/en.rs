//! The built-in templates in English: the same agreements as the Chinese ones, clause for
//! clause. Blanks (`＿＿`) are amounts, dates and details filled in while drafting.

use super::{TemplateContent, content};
use crate::store::model::Category;

const TITLE: &str = "People's Mediation Agreement";

const FACTS: &str =
    "Facts of the dispute and matters in dispute: {{facts}} The applicant requests: {{claims}}";

/// Performance under the committee's supervision, entry into force, judicial confirmation
/// within thirty days, and the copies: what every people's mediation agreement ends with.
const CLOSING: &[&str] = &[
    "Each party shall perform its obligations under this agreement fully and in good faith. {{organisation}} supervises the performance of this agreement and urges the parties to perform what they agreed.",
    "This agreement enters into force when it has been signed by every party and by the mediator and sealed with the seal of the people's mediation committee; it is then legally binding on the parties.",
    "If the parties consider it necessary, they may jointly apply to a people's court for judicial confirmation within thirty days of the day this agreement enters into force. Once the court has confirmed it as valid, if one party refuses to perform it or performs it only in part, the other party may apply to the court for enforcement.",
    "This agreement was reached on {{date}} in mediation conducted by {{mediator}}, mediator of {{organisation}}. It is made in ＿＿ copies of equal force: one for each party and one kept by {{organisation}}.",
];

/// The built-in template for `category`.
pub(super) fn template(category: Category) -> TemplateContent {
    let (name, terms, breach): (&str, &[&str], &str) = match category {
        Category::Neighbours => (
            "Neighbours: leaking water, noise",
            &[
                "By ＿＿ (date) the respondent shall have a qualified repairer fix the leak at ＿＿ (part) of the respondent's home, at the respondent's cost. When the repair is done the parties inspect it together; it is done when there is no further leak.",
                "The respondent shall pay the applicant RMB ＿＿ in one sum as compensation for the property damaged by the leak, by ＿＿ (date), by ＿＿ (bank transfer / cash).",
                "Both parties shall keep the rules on noise and the residential community's rules: no loud renovation or entertainment between 22:00 and 08:00 or between 12:00 and 14:00; work that cannot avoid this is announced to the other party ＿＿ days ahead.",
            ],
            "If the respondent does not finish the repair or pay the compensation in full on time, the respondent shall pay the applicant ＿＿% of the unpaid amount for each day of delay; new damage from a leak that recurs after the repair is compensated by the respondent separately.",
        ),
        Category::Labour => (
            "Labour: unpaid wages",
            &[
                "The respondent confirms that it owes the applicant wages of RMB ＿＿ in total for the period from ＿＿ to ＿＿.",
                "The respondent shall pay this amount as follows: RMB ＿＿ by ＿＿ (date) and the remaining RMB ＿＿ by ＿＿ (date), each into the applicant's bank account (bank: ＿＿, account number: ＿＿).",
                "By ＿＿ (date) the respondent shall give the applicant a certificate of the termination of the employment contract, and within fifteen days transfer the applicant's personnel file and social insurance.",
                "Once the applicant has received every amount under this agreement, the parties have no further dispute over these wages.",
            ],
            "If the respondent fails to pay any instalment in full on time, the applicant may claim every unpaid amount at once and the respondent shall pay ＿＿% of the unpaid amount for each day of delay; the applicant may also apply to a people's court for a payment order on the basis of this agreement, under Article 16 of the Labour Dispute Mediation and Arbitration Law.",
        ),
        Category::Property => (
            "Property management: service fees",
            &[
                "The respondent confirms that it owes property service fees of RMB ＿＿ in total for ＿＿ (address) for the period from ＿＿ to ＿＿; the applicant agrees to waive RMB ＿＿ of this amount.",
                "The respondent shall pay the applicant property service fees of RMB ＿＿ by ＿＿ (date); the applicant issues a formal receipt on payment.",
                "By ＿＿ (date) the applicant shall remedy the problems the respondent raised with ＿＿ (repairs of common facilities, cleaning, security, etc.) and inform the respondent of the result in writing.",
            ],
            "If the respondent does not pay on time, the waiver in this agreement no longer applies and the applicant may claim all outstanding fees by law; if the applicant does not remedy the problems on time, the respondent may report it to ＿＿ (the sub-district office / the owners' committee) and claim its rights by law.",
        ),
        Category::Consumer => (
            "Consumer: refund",
            &[
                "The respondent agrees to take back ＿＿ (goods or service) and refund the applicant RMB ＿＿, by ＿＿ (date), by the means the applicant paid with.",
                "By ＿＿ (date) the applicant shall return the goods with their accessories, gifts and invoice to the respondent; ＿＿ bears the cost of returning them.",
                "The respondent shall also pay the applicant RMB ＿＿ as compensation (including travel and lost working time), together with the refund.",
            ],
            "If the respondent refunds late, it shall pay the applicant ＿＿% of the refund for each day of delay; if the applicant does not return the goods as agreed, the respondent may deduct its loss from the compensation.",
        ),
        Category::Traffic => (
            "Road traffic accident: compensation",
            &[
                "The parties confirm that for the road traffic accident of ＿＿ (date) at ＿＿ (place) the traffic police found the respondent ＿＿ responsible (report number: ＿＿).",
                "The respondent compensates the applicant's medical costs, lost earnings, nursing, travel and property damage with RMB ＿＿ in total, of which the insurer has paid RMB ＿＿ and the respondent pays RMB ＿＿.",
                "The respondent shall pay its share in one sum by ＿＿ (date) into the applicant's bank account (bank: ＿＿, account number: ＿＿).",
                "Once paid, the applicant makes no further claim against the respondent for this accident, except for later treatment found after signing that could not be foreseen when signing.",
            ],
            "If the respondent does not pay in full on time, it shall pay the applicant ＿＿% of the unpaid amount for each day of delay, and the applicant may claim its full loss by law.",
        ),
        Category::Family => (
            "Family: support and maintenance payments",
            &[
                "From ＿＿ (month) the respondent shall pay RMB ＿＿ a month for the support of ＿＿ (the person supported), by day ＿＿ of each month into the bank account of ＿＿ (bank: ＿＿, account number: ＿＿), until ＿＿.",
                "Major medical and education costs of ＿＿ (the person supported) are shared on valid receipts, ＿＿% by ＿＿, paid within ＿＿ days of receiving the receipt.",
                "By ＿＿ (date) the respondent shall pay in one sum the support owed so far, RMB ＿＿ in total.",
                "This agreement only settles payments; it does not concern marriage, adoption, guardianship or any other personal status. If the needs of the person supported change considerably, the parties may agree anew.",
            ],
            "If the respondent is more than ＿＿ days late with any payment, the applicant may claim every payment that has fallen due by law.",
        ),
        Category::Medical => (
            "Medical dispute",
            &[
                "The parties confirm that this dispute arose from the treatment ＿＿ (treatment) that the applicant (or the applicant's close relative) received from the respondent on ＿＿ (date).",
                "The respondent pays the applicant RMB ＿＿ in one sum, covering medical, nursing, travel costs, lost earnings and every other cost, by ＿＿ (date) into the applicant's bank account (bank: ＿＿, account number: ＿＿).",
                "Within ＿＿ days of receiving that payment the applicant completes discharge and settles the bill, and does nothing on the premises that disturbs the normal order of medical care.",
            ],
            "If the respondent does not pay in full on time, it shall pay the applicant ＿＿% of the unpaid amount for each day of delay. Once paid in full, the applicant makes no further claim over this treatment against the respondent or its medical staff.",
        ),
        Category::Contract => (
            "Contract dispute",
            &[
                "The parties confirm that under the contract ＿＿ signed on ＿＿ (date) the respondent owes the applicant RMB ＿＿.",
                "The respondent shall pay RMB ＿＿ by ＿＿ (date) and the remaining RMB ＿＿ by ＿＿ (date), each into the applicant's bank account (bank: ＿＿, account number: ＿＿).",
                "From the day this agreement enters into force the contract ＿＿ is ＿＿ (performed further / terminated); if terminated, each party returns ＿＿ by ＿＿ (date).",
            ],
            "If any instalment is late, every remaining amount falls due at once and the respondent shall pay ＿＿% of the unpaid amount for each day of delay.",
        ),
        Category::Other => (
            "Other civil dispute",
            &[
                "By ＿＿ (date) the respondent shall ＿＿ (what the respondent does) for the applicant.",
                "The respondent shall pay the applicant RMB ＿＿ by ＿＿ (date), by ＿＿ (bank transfer / cash).",
                "By ＿＿ (date) the applicant shall ＿＿ (what the applicant does).",
            ],
            "A party that does not perform this agreement compensates the other party's resulting loss; a late payment carries ＿＿% of the unpaid amount for each day of delay.",
        ),
    };
    content(name, TITLE, FACTS, terms, breach, CLOSING)
}
