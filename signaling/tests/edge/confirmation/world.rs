//! What the confirmation tests stand on: the signing suite's world (a server in this process
//! with a gateway that keeps every message, a case with its people in a live session) taken
//! to an agreement in force the way phones take it there, plus a representative with a power
//! of attorney on file and case links.

use accord_cases::store::Store;
use accord_cases::store::model::{Actor, NewParty, Party, PartyKind, Side};
use serde_json::{Value, json};

pub(crate) use crate::agreements_signing::world::{Case4, World, case_with_people};
use crate::agreements_signing::world::{
    Device, by_code, challenge, final_agreement, free_will_alone, sign,
};

/// A case taken to an agreement in force, with the respondent's second representative (钱律师)
/// holding a power of attorney; the session has ended.
pub(crate) struct InForce {
    pub(crate) c: Case4,
    pub(crate) agreement_id: String,
    pub(crate) text_sha256: String,
    pub(crate) attorney: Party,
}

/// Stores `bytes` in the server's blob store; returns their SHA-256.
pub(crate) async fn put_blob(w: &World, bytes: &[u8]) -> String {
    let mut writer = w.state.blobs().writer().await.expect("writer");
    writer.write(bytes).await.expect("write");
    writer.finish().await.expect("finish").sha256
}

pub(crate) async fn in_force(w: &World, store: &Store) -> InForce {
    let c = case_with_people(w, store, accord_cases::store::model::Category::Neighbours).await;
    let letter = put_blob(w, b"%PDF-1.4\n% power of attorney\n").await;
    let attorney = store
        .add_party(
            &Actor::System,
            &c.case.id,
            NewParty {
                side: Side::Respondent,
                kind: PartyKind::Representative,
                name: "钱律师".into(),
                phone: Some("13700137000".into()),
                id_number: None,
                represents: Some(c.respondent.id.clone()),
                attorney_letter: Some(letter),
            },
        )
        .await
        .expect("representative with a power of attorney");
    let (host, seats) = c.seat_everyone(&w.state);
    let (id, sha) = final_agreement(store, &c, false).await;
    // 李四's first representative follows him into his private room; he leaves, so the
    // mediator can ask 李四 alone.
    w.state.rooms().remove(
        &c.session.room,
        &seats[2].participant.id,
        accord_protocol::LeaveReason::Left,
    );
    for (seat, party) in [(&seats[0], &c.applicant), (&seats[1], &c.respondent)] {
        free_will_alone(w, &c, &id, &host, seat, party).await;
        let device = Device::new();
        by_code(w, &id, c.token(party), &device).await;
        let payload = challenge(w, &id, c.token(party)).await;
        let (status, body) = sign(w, &id, c.token(party), &device, &payload).await;
        assert_eq!(status, 200, "{body}");
    }
    let mediator_key = Device::new();
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/identity"),
            &c.mediator_access,
            Some(json!({"method": "staff", "public_key": mediator_key.public_key()})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let payload = challenge(w, &id, &c.mediator_access).await;
    let (status, body) = sign(w, &id, &c.mediator_access, &mediator_key, &payload).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/seal"),
            &c.mediator_access,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "in_force", "{body}");
    drop(seats);
    drop(host);
    // The parties apply after the session: its links still reach the confirmation.
    store
        .end_session(&Actor::System, &c.session.id)
        .await
        .expect("session ended");
    InForce {
        c,
        agreement_id: id,
        text_sha256: sha,
        attorney,
    }
}

/// The confirmation view of `agreement` for `token`.
pub(crate) async fn view(w: &World, agreement: &str, token: &str) -> (u16, Value) {
    w.call(
        "GET",
        &format!("/agreements/{agreement}/confirmation"),
        token,
        None,
    )
    .await
}

/// `token` applies (for `party_id`, when given) with an address and the undertakings.
pub(crate) async fn apply(
    w: &World,
    agreement: &str,
    token: &str,
    party_id: Option<&str>,
) -> (u16, Value) {
    let mut body = json!({"address": "北京市朝阳区幸福路1号", "declarations": true});
    if let Some(party) = party_id {
        body["party_id"] = json!(party);
    }
    w.call(
        "POST",
        &format!("/agreements/{agreement}/confirmation/apply"),
        token,
        Some(body),
    )
    .await
}

/// The messages the gateway was sent with `template`.
pub(crate) fn sent(w: &World, template: &str) -> Vec<Value> {
    w.outbox
        .lock()
        .expect("outbox")
        .iter()
        .filter(|m| m["template"] == template)
        .cloned()
        .collect()
}

/// A case link for `party`, as the links route mints it.
pub(crate) fn case_link_token(w: &World, c: &Case4, party: &Party) -> String {
    let link = accord_signaling::confirmation::links::case_link(
        &w.state,
        &c.case,
        party,
        accord_cases::store::now_ms() + 90 * 24 * 3600 * 1000,
    )
    .expect("case link");
    link.split_once("#token=").expect("a token").1.to_owned()
}
