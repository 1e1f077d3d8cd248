//! `accord serve --demo`: example data so a newcomer can try everything in a minute.
//!
//! One mediation organisation with an administrator, a mediator and a court user, a
//! neighbours' dispute with a session tomorrow and an online application waiting to be
//! accepted. It is written through the store like any other change, so the audit trail
//! shows it (as `system`). The accounts share one random password, kept in
//! `<data_dir>/demo-login.txt` so later starts can print it again. Each step finds what an
//! earlier start made, so a second `--demo` start adds nothing and one after a failure
//! completes the data.

use std::path::{Path, PathBuf};

use accord_cases::staff_password::hash_password_blocking;
use accord_cases::store::model::{
    Actor, CaseStatus, Category, Channel, NewCase, NewOrganisation, NewParty, NewStaff, PartyKind,
    Risk, Side, StaffRole,
};
use accord_cases::store::{NewIntake, Store, now_ms};

use crate::Error;
use crate::config::Config;

const ORGANISATION: &str = "宝安区新安街道人民调解委员会";
const REGION: &str = "新安街道";
const COURT: &str = "深圳市宝安区人民法院";
/// The accounts, as (username, display name, role).
const ACCOUNTS: [(&str, &str, StaffRole); 3] = [
    ("demo.mediator", "李调解员", StaffRole::Mediator),
    ("demo.court", "王法官", StaffRole::Court),
    ("demo.admin", "陈主任", StaffRole::Administrator),
];

/// How to sign in to the demo.
#[derive(Clone, Debug)]
pub struct DemoLogin {
    /// The usernames, as (username, role).
    pub accounts: Vec<(&'static str, StaffRole)>,
    /// Their shared password, if the file that keeps it is still there.
    pub password: Option<String>,
    /// Where the password is kept.
    pub file: PathBuf,
    /// Whether this start wrote the demo data.
    pub seeded: bool,
}

impl DemoLogin {
    /// The lines printed once the server listens on `port`.
    pub fn instructions(&self, port: u16) -> String {
        let mut text = format!(
            "Demo data {} ({ORGANISATION}).\n  Staff desk: http://localhost:{port}/staff/login\n",
            if self.seeded {
                "created"
            } else {
                "already present"
            }
        );
        for (username, role) in &self.accounts {
            text.push_str(&format!("  {:<14} {username}\n", role.as_str()));
        }
        match &self.password {
            Some(password) => text.push_str(&format!("  password       {password}\n")),
            None => text.push_str(&format!(
                "  password       (not found: {} was removed)\n",
                self.file.display()
            )),
        }
        text.push_str(&format!(
            "  Online application (region {REGION}): http://localhost:{port}/apply\n\
             The password is kept in {}. Do not use --demo on a production database.",
            self.file.display()
        ));
        text
    }
}

/// Seeds the demo data into the configured store unless it is there already.
pub async fn prepare(config: &Config) -> Result<DemoLogin, Error> {
    let store = crate::open_store(config).await?;
    let result = seed(&store, &config.data_dir).await;
    store.close().await;
    result
}

async fn seed(store: &Store, data_dir: &Path) -> Result<DemoLogin, Error> {
    let file = data_dir.join("demo-login.txt");
    let accounts = ACCOUNTS.iter().map(|(u, _, r)| (*u, *r)).collect();
    // Every step below finds what an earlier start made, so a start that failed half-way is
    // completed by the next one rather than seeding twice.
    let existing = store
        .organisations()
        .await?
        .into_iter()
        .find(|o| o.name == ORGANISATION && o.region == REGION);
    let seeded = existing.is_none();
    let kept_password = std::fs::read_to_string(&file)
        .ok()
        .and_then(|text| text.lines().next().map(|line| line.trim().to_owned()))
        .filter(|line| !line.is_empty());
    let mut missing = Vec::new();
    for account in ACCOUNTS {
        if store.staff_by_username(account.0).await?.is_none() {
            missing.push(account);
        }
    }
    let password = match kept_password {
        Some(password) => Some(password),
        None if !missing.is_empty() => {
            let password = accord_sfu::random_token(16);
            // Written before the accounts: if seeding stops half-way, the next start uses it.
            crate::write_private(&file, &format!("{password}\n"))
                .map_err(crate::io(format!("writing {}", file.display())))?;
            Some(password)
        }
        None => None,
    };
    let system = Actor::System;
    let organisation = match existing {
        Some(org) => org,
        None => {
            store
                .create_organisation(
                    &system,
                    NewOrganisation {
                        name: ORGANISATION.into(),
                        short_name: "宝安".into(),
                        region: REGION.into(),
                        channel: Channel::Peoples,
                        court: Some(COURT.into()),
                    },
                )
                .await?
        }
    };
    if let (Some(password), false) = (&password, missing.is_empty()) {
        let password_hash = hash_password_blocking(password.clone()).await?;
        for (username, display_name, role) in missing {
            store
                .create_staff(
                    &system,
                    NewStaff {
                        organisation_id: (role != StaffRole::Court)
                            .then(|| organisation.id.clone()),
                        username: username.into(),
                        display_name: display_name.into(),
                        role,
                        court: (role == StaffRole::Court).then(|| COURT.into()),
                        password_hash: password_hash.clone(),
                    },
                )
                .await?;
        }
    }
    let mediator_id = store
        .staff_by_username(ACCOUNTS[0].0)
        .await?
        .map(|staff| staff.id)
        .ok_or_else(|| accord_signaling::Error::Internal("the demo mediator is missing".into()))?;

    let person = |side, name: &str, phone: &str, id_number: Option<&str>| NewParty {
        side,
        kind: PartyKind::Person,
        name: name.into(),
        phone: Some(phone.into()),
        id_number: id_number.map(str::to_owned),
        represents: None,
        attorney_letter: None,
    };
    let (leak, _) = store
        .register_case(
            &system,
            NewCase {
                organisation_id: organisation.id.clone(),
                category: Category::Neighbours,
                region: REGION.into(),
                risk: Risk::Yellow,
                title: "楼上漏水纠纷".into(),
                facts: "2026年10月起，楼上702室卫生间持续漏水，602室天花板和墙面发霉脱落。\
                        双方多次协商未果。"
                    .into(),
                claims: "702室修复防水层，并赔偿602室墙面修复费用3000元。".into(),
                status: CaseStatus::Accepted,
                tracking_code: None,
            },
            vec![
                person(
                    Side::Applicant,
                    "张三",
                    "13800138000",
                    Some("11010519491231002X"),
                ),
                person(Side::Respondent, "李四", "13900139000", None),
            ],
            Some("demo-case-1"),
        )
        .await?;
    if leak.status == CaseStatus::Accepted {
        store.assign_case(&system, &leak.id, &mediator_id).await?;
    }
    store
        .schedule_session_once(
            &system,
            &leak.id,
            tomorrow_at_ten_beijing(now_ms()),
            Some("demo-session-1"),
        )
        .await?;

    store
        .submit_intake(
            NewIntake {
                case: NewCase {
                    organisation_id: organisation.id.clone(),
                    category: Category::Labour,
                    region: REGION.into(),
                    risk: Risk::Blue,
                    title: "拖欠工资三个月".into(),
                    facts:
                        "本人在某劳务派遣有限公司做装配工，2026年8月至10月工资共12000元至今未发。"
                            .into(),
                    claims: "支付拖欠工资12000元。".into(),
                    status: CaseStatus::Intake,
                    tracking_code: None,
                },
                applicant: person(Side::Applicant, "王五", "13700137000", None),
                respondent: NewParty {
                    side: Side::Respondent,
                    kind: PartyKind::Organisation,
                    name: "某劳务派遣有限公司".into(),
                    phone: Some("075526000000".into()),
                    id_number: None,
                    represents: None,
                    attorney_letter: None,
                },
                files: Vec::new(),
            },
            "demo-intake-1",
        )
        .await?;
    Ok(DemoLogin {
        accounts,
        password,
        file,
        seeded,
    })
}

/// 10:00 tomorrow in Beijing (UTC+8), as Unix milliseconds.
fn tomorrow_at_ten_beijing(now_ms: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    const OFFSET: i64 = 8 * 3_600_000;
    let beijing_midnight = (now_ms + OFFSET).div_euclid(DAY) * DAY - OFFSET;
    beijing_midnight + DAY + 10 * 3_600_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_session_is_at_ten_tomorrow_in_beijing() {
        // 2026-11-23 20:00 UTC is already 04:00 on the 24th in Beijing.
        let now = 1_795_464_000_000;
        let at = tomorrow_at_ten_beijing(now);
        let t = accord_cases::store::china_time(at);
        assert_eq!((t.month, t.day, t.hour, t.minute), (11, 25, 10, 0));
    }
}
