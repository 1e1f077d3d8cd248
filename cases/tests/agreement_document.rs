//! The agreement document as the server keeps it, driven the way browsers drive it: peers
//! are plain `yrs` documents (the same CRDT and v1 encoding as Yjs) that edit locally and
//! send updates.

use accord_cases::Error;
use accord_cases::agreements::document::{
    Clause, ClauseKind, Draft, MAX_CLAUSES, MAX_UPDATE_BYTES, canonical_text, label, text_sha256,
};
use yrs::WriteTxn;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Any, Array, ArrayRef, Doc, GetString, Map, MapPrelim, MapRef, Out, ReadTxn, StateVector, Text,
    TextPrelim, TextRef, Transact, Update,
};

/// A browser's copy of the document.
struct Peer {
    doc: Doc,
    title: TextRef,
    clauses: ArrayRef,
}

impl Peer {
    fn load(update: &[u8]) -> Peer {
        // Yjs counts text positions in UTF-16 code units.
        let doc = Doc::with_options(yrs::Options {
            offset_kind: yrs::OffsetKind::Utf16,
            ..Default::default()
        });
        let title = doc.get_or_insert_text("title");
        let clauses = doc.get_or_insert_array("clauses");
        let peer = Peer {
            doc,
            title,
            clauses,
        };
        peer.receive(update);
        peer
    }

    fn receive(&self, update: &[u8]) {
        let mut txn = self.doc.transact_mut();
        txn.apply_update(Update::decode_v1(update).expect("decodes"))
            .expect("applies");
    }

    fn sv(&self) -> Vec<u8> {
        self.doc.transact().state_vector().encode_v1()
    }

    /// Everything this peer has that a holder of `sv` lacks.
    fn since(&self, sv: &[u8]) -> Vec<u8> {
        let sv = StateVector::decode_v1(sv).expect("state vector");
        self.doc.transact().encode_state_as_update_v1(&sv)
    }

    /// Runs `edit` and returns the update it produced, as a browser would send it.
    fn edit(&self, edit: impl FnOnce(&mut yrs::TransactionMut<'_>, &Peer)) -> Vec<u8> {
        let before = self.sv();
        {
            let mut txn = self.doc.transact_mut();
            edit(&mut txn, self);
        }
        self.since(&before)
    }

    fn clause_map(&self, txn: &yrs::TransactionMut<'_>, i: u32) -> MapRef {
        match self.clauses.get(txn, i) {
            Some(Out::YMap(map)) => map,
            other => panic!("clause {i} is {other:?}"),
        }
    }

    fn clause_text(&self, txn: &yrs::TransactionMut<'_>, i: u32) -> TextRef {
        match self.clause_map(txn, i).get(txn, "text") {
            Some(Out::YText(text)) => text,
            other => panic!("clause {i} text is {other:?}"),
        }
    }

    fn texts(&self) -> Vec<String> {
        let txn = self.doc.transact();
        self.clauses
            .iter(&txn)
            .map(|v| match v {
                Out::YMap(map) => match map.get(&txn, "text") {
                    Some(Out::YText(t)) => t.get_string(&txn),
                    other => panic!("text is {other:?}"),
                },
                other => panic!("clause is {other:?}"),
            })
            .collect()
    }
}

fn sample() -> (Draft, Vec<u8>) {
    Draft::new_from(
        "人民调解协议书",
        &[
            (ClauseKind::Facts, "纠纷事实：楼上漏水。".to_owned()),
            (ClauseKind::Term, "被申请人赔偿＿＿元。".to_owned()),
            (ClauseKind::Breach, "逾期按日支付违约金。".to_owned()),
            (ClauseKind::Closing, "本协议自签名盖章后生效。".to_owned()),
        ],
    )
}

fn texts(draft: &Draft) -> Vec<String> {
    draft.clauses().into_iter().map(|c| c.text).collect()
}

fn bad_request(result: accord_cases::Result<Vec<String>>) -> String {
    match result {
        Err(Error::BadRequest(message)) => message,
        other => panic!("expected a bad request, got {other:?}"),
    }
}

#[test]
fn a_document_round_trips_through_its_updates_and_its_copy() {
    let (draft, first) = sample();
    let clauses = draft.clauses();
    assert_eq!(clauses.len(), 4);
    assert_eq!(clauses[0].kind, ClauseKind::Facts);
    assert_eq!(clauses[1].text, "被申请人赔偿＿＿元。");
    let ids: std::collections::HashSet<&str> = clauses.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), 4, "fresh ids are distinct");

    let again = Draft::from_updates([first.as_slice()]).expect("rebuilds");
    assert_eq!(again.title(), "人民调解协议书");
    assert_eq!(again.clauses(), clauses);

    let copy = Draft::from_updates([draft.full_update().as_slice()]).expect("copies");
    assert_eq!(copy.clauses(), clauses);

    // What the server answers a browser that has nothing builds the same document there.
    let peer = Peer::load(&draft.diff(&[]).expect("diff"));
    assert_eq!(
        peer.title.get_string(&peer.doc.transact()),
        "人民调解协议书"
    );
    assert_eq!(peer.texts(), texts(&draft));
}

#[test]
fn two_editors_converge_whichever_order_their_updates_arrive_in() {
    let (_, first) = sample();
    let a = Peer::load(&first);
    let b = Peer::load(&first);
    let from_a = a.edit(|txn, p| p.clause_text(txn, 1).insert(txn, 6, "5000"));
    let from_b = b.edit(|txn, p| {
        p.clause_text(txn, 1).push(txn, "于十日内付清。");
        let map = p.clauses.insert(txn, 2, MapPrelim::default());
        map.insert(txn, "id", "newclause1");
        map.insert(txn, "kind", "term");
        map.insert(txn, "text", TextPrelim::new("申请人出具收条。"));
    });

    let mut one = Draft::from_updates([first.as_slice()]).expect("rebuilds");
    let changed_a = one.apply(&from_a).expect("a applies");
    let changed_b = one.apply(&from_b).expect("b applies");
    let mut two = Draft::from_updates([first.as_slice()]).expect("rebuilds");
    two.apply(&from_b).expect("b applies");
    two.apply(&from_a).expect("a applies");

    let id_1 = one.clauses()[1].id.clone();
    assert_eq!(changed_a, vec![id_1.clone()]);
    assert_eq!(changed_b, vec![id_1, "newclause1".to_owned()]);
    assert_eq!(one.clauses(), two.clauses());
    assert_eq!(
        one.clauses()[1].text,
        "被申请人赔偿5000＿＿元。于十日内付清。"
    );
    assert_eq!(one.clauses()[2].text, "申请人出具收条。");

    // Each browser receives the other's update and shows the same.
    a.receive(&from_b);
    b.receive(&from_a);
    assert_eq!(a.texts(), texts(&one));
    assert_eq!(b.texts(), texts(&one));
}

#[test]
fn offline_edits_merge_through_state_vectors() {
    let (mut server, first) = sample();
    let online = Peer::load(&first);
    let offline = Peer::load(&first);
    for n in 0..3 {
        let update = online.edit(|txn, p| p.clause_text(txn, 3).push(txn, &format!(" 在线{n}")));
        server.apply(&update).expect("online edit");
    }
    // Several edits while disconnected, sent as one diff against the server's state vector.
    offline.edit(|txn, p| p.clause_text(txn, 0).push(txn, " 补充一"));
    offline.edit(|txn, p| p.title.push(txn, "（草稿）"));
    let server_sv = server.state_vector();
    let catch_up = offline.since(&server_sv);
    server.apply(&catch_up).expect("offline edits");
    offline.receive(&server.diff(&offline.sv()).expect("diff"));
    online.receive(&server.diff(&online.sv()).expect("diff"));

    assert_eq!(server.title(), "人民调解协议书（草稿）");
    assert_eq!(offline.texts(), texts(&server));
    assert_eq!(online.texts(), texts(&server));
    assert!(server.clauses()[3].text.ends_with(" 在线0 在线1 在线2"));
    assert!(server.clauses()[0].text.ends_with(" 补充一"));
    // Sending it again changes nothing.
    assert_eq!(
        server.apply(&catch_up).expect("duplicate"),
        Vec::<String>::new()
    );
}

#[test]
fn a_state_vector_that_does_not_decode_is_refused() {
    let (draft, _) = sample();
    match draft.diff(&[0xff, 0xff, 0xff]) {
        Err(Error::BadRequest(_)) => {}
        other => panic!("expected a bad request, got {other:?}"),
    }
    // An up-to-date peer gets an update that changes nothing.
    let peer = Peer::load(&draft.full_update());
    let nothing = draft.diff(&peer.sv()).expect("diff");
    peer.receive(&nothing);
    assert_eq!(peer.texts(), texts(&draft));
}

/// Each malformed update is refused with a message, and the document is as before.
#[test]
fn every_malformed_update_is_refused_and_leaves_the_document_as_it_was() {
    let (mut server, first) = sample();
    let before_clauses = server.clauses();
    let before_sv = server.state_vector();

    let mut refuse = |update: Vec<u8>, expect: &str| {
        let message = bad_request(server.apply(&update));
        assert!(
            message.contains(expect),
            "`{message}` does not mention `{expect}`"
        );
        assert_eq!(server.clauses(), before_clauses, "after `{expect}`");
        assert_eq!(server.state_vector(), before_sv, "after `{expect}`");
    };

    refuse(vec![0u8; MAX_UPDATE_BYTES + 1], "at most");
    refuse(b"not an update".to_vec(), "decode");

    let peer = || Peer::load(&first);
    refuse(
        peer().edit(|txn, _| {
            let other = txn.get_or_insert_map("secrets");
            other.insert(txn, "k", "v");
        }),
        "not `secrets`",
    );
    refuse(
        peer().edit(|txn, p| {
            p.clauses.push_back(txn, "just a string");
        }),
        "not a map",
    );
    refuse(
        peer().edit(|txn, p| {
            let map = p.clauses.push_back(txn, MapPrelim::default());
            map.insert(txn, "kind", "term");
            map.insert(txn, "text", TextPrelim::new("x"));
        }),
        "has no id",
    );
    refuse(
        peer().edit(|txn, p| {
            let map = p.clauses.push_back(txn, MapPrelim::default());
            map.insert(txn, "id", "x".repeat(33));
            map.insert(txn, "kind", "term");
            map.insert(txn, "text", TextPrelim::new("x"));
        }),
        "its id is",
    );
    refuse(
        peer().edit(|txn, p| {
            p.clause_map(txn, 1).insert(txn, "kind", "preamble");
        }),
        "unknown clause kind",
    );
    refuse(
        peer().edit(|txn, p| {
            p.clause_map(txn, 1).insert(txn, "kind", 3.0);
        }),
        "`kind` is not a string",
    );
    refuse(
        peer().edit(|txn, p| {
            p.clause_map(txn, 1).insert(txn, "text", "a plain string");
        }),
        "not a Y.Text",
    );
    refuse(
        peer().edit(|txn, p| {
            p.clause_map(txn, 1).insert(txn, "colour", "red");
        }),
        "has a key `colour`",
    );
    refuse(
        peer().edit(|txn, p| {
            let id = match p.clause_map(txn, 0).get(txn, "id") {
                Some(Out::Any(Any::String(id))) => id.to_string(),
                other => panic!("id is {other:?}"),
            };
            let map = p.clauses.push_back(txn, MapPrelim::default());
            map.insert(txn, "id", id);
            map.insert(txn, "kind", "term");
            map.insert(txn, "text", TextPrelim::new("copy"));
        }),
        "ids are unique",
    );
    refuse(
        peer().edit(|txn, p| {
            let len = p.clauses.len(txn) as usize;
            for n in 0..=(MAX_CLAUSES - len) {
                let map = p.clauses.push_back(txn, MapPrelim::default());
                map.insert(txn, "id", format!("c{n}"));
                map.insert(txn, "kind", "term");
                map.insert(txn, "text", TextPrelim::new(""));
            }
        }),
        "at most 200 clauses",
    );
    // Over the character limit without going over the byte limit of one update: earlier
    // updates are accepted, the one that crosses the limit is not.
    {
        let filler = peer();
        let mut accepted = Vec::new();
        let mut refused = None;
        for n in 0..20 {
            let update = filler.edit(|txn, p| {
                let map = p.clauses.push_back(txn, MapPrelim::default());
                map.insert(txn, "id", format!("big{n}"));
                map.insert(txn, "kind", "term");
                map.insert(txn, "text", TextPrelim::new("长".repeat(20_000)));
            });
            let mut trial = Draft::from_updates(
                std::iter::once(first.as_slice()).chain(accepted.iter().map(Vec::as_slice)),
            )
            .expect("rebuilds");
            match trial.apply(&update) {
                Ok(_) => accepted.push(update),
                Err(Error::BadRequest(message)) => {
                    refused = Some((n, message, trial.clauses().len()));
                    break;
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        let (n, message, clauses) = refused.expect("the limit is reached");
        assert_eq!(
            n, 9,
            "ten 20 000-character clauses pass 200 000 with the others"
        );
        assert!(message.contains("200000 characters"), "{message}");
        assert_eq!(clauses, 4 + 9);
    }
    refuse(
        peer().edit(|txn, p| {
            p.title.insert_embed(txn, 0, MapPrelim::default());
        }),
        "embeds an object",
    );
    refuse(
        peer().edit(|txn, p| {
            let attrs = yrs::types::Attrs::from([("bold".into(), Any::Bool(true))]);
            p.clause_text(txn, 1).format(txn, 0, 2, attrs);
        }),
        "has formatting",
    );
    refuse(
        peer().edit(|txn, _| {
            if let Some(keys) = txn.get_map("title") {
                keys.insert(txn, "hidden", "v");
            }
        }),
        "`title` has keys",
    );
    // An update that builds on an edit the server never received.
    {
        let p = peer();
        p.edit(|txn, p| p.title.push(txn, "一"));
        let second = p.edit(|txn, p| p.title.push(txn, "二"));
        refuse(second, "does not have");
    }
}

#[test]
fn canonical_text_is_nfc_with_unix_line_ends_and_no_trailing_space() {
    let clauses = vec![
        Clause {
            id: "a".into(),
            kind: ClauseKind::Facts,
            text: "Cafe\u{301} ＡＢＣ１２３  \r\nsecond line\t".into(),
        },
        Clause {
            id: "b".into(),
            kind: ClauseKind::Term,
            text: "pays\rlater ".into(),
        },
        Clause {
            id: "c".into(),
            kind: ClauseKind::Closing,
            text: "copies\n\n".into(),
        },
    ];
    let parties = vec!["申请人：张三 ".to_owned(), "被申请人：李四".to_owned()];
    let text = canonical_text("Title ", &parties, &clauses, "en");
    assert_eq!(
        text,
        "Title\n\n申请人：张三\n被申请人：李四\n\nCafé ＡＢＣ１２３\nsecond line\nArticle 1 pays\nlater\nArticle 2 copies"
    );
    // NFC composes e + U+0301 but keeps full-width letters (only NFKC would fold them).
    assert!(text.contains('\u{e9}'));
    assert!(!text.contains('\u{301}'));
    assert!(text.contains("ＡＢＣ１２３"));

    let zh = canonical_text("人民调解协议书", &parties, &clauses, "zh-CN");
    assert!(zh.ends_with("\n第一条 pays\nlater\n第二条 copies"), "{zh}");
    assert_eq!(
        text_sha256("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(text_sha256(&text), text_sha256(&text.clone()));
    assert_eq!(text_sha256(&text).len(), 64);
}

#[test]
fn chinese_labels_count_as_legal_texts_do() {
    let want = [
        "一",
        "二",
        "三",
        "四",
        "五",
        "六",
        "七",
        "八",
        "九",
        "十",
        "十一",
        "十二",
        "十三",
        "十四",
        "十五",
        "十六",
        "十七",
        "十八",
        "十九",
        "二十",
        "二十一",
        "二十二",
        "二十三",
        "二十四",
        "二十五",
    ];
    for (i, numeral) in want.iter().enumerate() {
        assert_eq!(label("zh-CN", i + 1), format!("第{numeral}条"));
    }
    assert_eq!(label("zh-CN", 99), "第九十九条");
    assert_eq!(label("en", 25), "Article 25");
}

#[test]
fn stored_updates_that_no_longer_build_a_document_are_reported_as_damage() {
    let (_, first) = sample();
    match Draft::from_updates([first.as_slice(), b"garbage".as_slice()]) {
        Err(Error::Internal(_)) => {}
        other => panic!("expected an internal error, got {other:?}"),
    }
    let peer = Peer::load(&first);
    peer.edit(|txn, p| p.title.push(txn, "一"));
    let gap = peer.edit(|txn, p| p.title.push(txn, "二"));
    match Draft::from_updates([first.as_slice(), gap.as_slice()]) {
        Err(Error::Internal(_)) => {}
        other => panic!("expected an internal error, got {other:?}"),
    }
}
