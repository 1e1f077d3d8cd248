//! The case-work API through the real binary: field errors (422), idempotent creates, and
//! evidence files that come back byte for byte.

use accord_tests::case_world::{CaseWorld as World, id_of};
use anyhow::{Context, Result, ensure};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn invalid_bodies_are_answered_with_field_errors() -> Result<()> {
    let world = World::new().await?;
    let api = &world.api;
    let answer = api
        .post(
            "/api/v1/cases",
            json!({"category": "weather", "risk": "green", "title": "", "facts": "x", "claims": "y",
                   "parties": [
                       {"side": "applicant", "kind": "person", "name": "张三", "phone": "12345", "id_number": "110105194912310021"},
                       {"side": "nobody", "kind": "person", "name": ""}
                   ]}),
            &world.mediator_a,
        )
        .await?;
    ensure!(
        answer.status == StatusCode::UNPROCESSABLE_ENTITY && answer.body["code"] == "invalid",
        "{answer:?}"
    );
    let fields = answer.field_names();
    for wanted in [
        "category",
        "risk",
        "title",
        "parties[0].phone",
        "parties[0].id_number",
        "parties[1].side",
        "parties[1].name",
    ] {
        ensure!(
            fields.iter().any(|f| f == wanted),
            "no `{wanted}` in {fields:?}"
        );
    }
    ensure!(
        answer.body["fields"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );

    // A case needs both sides.
    let answer = api
        .post(
            "/api/v1/cases",
            json!({"category": "labour", "title": "欠薪", "facts": "x", "claims": "y",
                   "parties": [{"side": "applicant", "kind": "person", "name": "张三"}]}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.field_names() == ["parties"], "{answer:?}");

    let detail = world.case("楼上漏水纠纷").await?;
    let case = id_of(&detail, "/case/id")?;
    let answer = api
        .post(
            &format!("/api/v1/cases/{case}/sessions"),
            json!({"scheduled_at": "tomorrow"}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.field_names() == ["scheduled_at"], "{answer:?}");
    let answer = api
        .post(
            &format!("/api/v1/cases/{case}/parties"),
            json!({"side": "applicant", "kind": "representative", "name": "王律师"}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.field_names() == ["represents"], "{answer:?}");
    let answer = api
        .post(
            &format!("/api/v1/cases/{case}/assign"),
            json!({"mediator_id": "ST_nobody"}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.field_names() == ["mediator_id"], "{answer:?}");
    let session = world.session(&case).await?;
    let answer = api
        .post(
            &format!("/api/v1/sessions/{session}/invites"),
            json!({"party_id": "PT_nobody", "ttl_hours": 1000}),
            &world.mediator_a,
        )
        .await?;
    ensure!(
        answer.field_names() == ["party_id", "ttl_hours"] || answer.field_names() == ["ttl_hours"],
        "{answer:?}"
    );
    let answer = api
        .post(
            "/api/v1/staff",
            json!({"username": "a b", "display_name": "", "password": "short", "role": "mediator"}),
            &world.admin,
        )
        .await?;
    let fields = answer.field_names();
    for wanted in ["username", "display_name", "password", "organisation_id"] {
        ensure!(
            fields.iter().any(|f| f == wanted),
            "no `{wanted}` in {fields:?}"
        );
    }
    // Not JSON at all is a bad request, not a field error.
    let answer = api
        .call(
            Method::POST,
            "/api/v1/cases",
            None,
            Some(&world.mediator_a),
            &[("content-type", "application/json")],
        )
        .await?;
    ensure!(answer.status == StatusCode::BAD_REQUEST, "{answer:?}");
    world.server.stop().await
}

#[tokio::test]
async fn retried_creates_with_one_idempotency_key_make_one_record() -> Result<()> {
    let world = World::new().await?;
    let body = json!({
        "category": "property", "title": "物业费争议", "facts": "物业服务不到位。", "claims": "减免物业费。",
        "parties": [
            {"side": "applicant", "kind": "person", "name": "赵六"},
            {"side": "respondent", "kind": "organisation", "name": "某物业服务有限公司"}
        ]
    });
    let key = "case-create-key-0001";
    let headers = [("idempotency-key", key)];
    let attempts = (0..4).map(|_| {
        world.api.call(
            Method::POST,
            "/api/v1/cases",
            Some(&body),
            Some(&world.mediator_a),
            &headers,
        )
    });
    let answers = futures_util::future::try_join_all(attempts).await?;
    let created = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    let repeated = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    ensure!((created, repeated) == (1, 3), "{answers:?}");
    let ids: Vec<_> = answers
        .iter()
        .map(|a| a.body["case"]["id"].clone())
        .collect();
    ensure!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let listed = world.api.get("/api/v1/cases", &world.mediator_a).await?;
    ensure!(
        listed.body["items"].as_array().map(Vec::len) == Some(1),
        "{}",
        listed.body
    );
    let parties = answers[0].body["parties"].as_array().map(Vec::len);
    ensure!(parties == Some(2), "{}", answers[0].body);

    let case = ids[0].as_str().context("case id")?.to_owned();
    // The mediator who entered it has it (not "未分派"), and the audit trail says so.
    let detail = world
        .api
        .get(&format!("/api/v1/cases/{case}"), &world.mediator_a)
        .await?;
    ensure!(
        detail.body["case"]["mediator_id"] == world.mediator_a_id.as_str()
            && detail.body["case"]["status"] == "assigned"
            && detail.body["mediator"]["id"] == world.mediator_a_id.as_str(),
        "{}",
        detail.body
    );
    let audit = world
        .api
        .get(&format!("/api/v1/cases/{case}/audit"), &world.mediator_a)
        .await?;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["action"].as_str()).collect())
        .unwrap_or_default();
    ensure!(
        actions.iter().filter(|a| **a == "case.assigned").count() == 1,
        "{actions:?}"
    );
    let at = json!({"scheduled_at": accord_cases::store::now_ms() + 86_400_000});
    let path = format!("/api/v1/cases/{case}/sessions");
    for expected in [StatusCode::CREATED, StatusCode::OK] {
        let answer = world
            .api
            .call(
                Method::POST,
                &path,
                Some(&at),
                Some(&world.mediator_a),
                &[("idempotency-key", "session-key-0001")],
            )
            .await?;
        ensure!(answer.status == expected, "{answer:?}");
    }
    let detail = world
        .api
        .get(&format!("/api/v1/cases/{case}"), &world.mediator_a)
        .await?;
    ensure!(
        detail.body["sessions"].as_array().map(Vec::len) == Some(1),
        "{}",
        detail.body
    );
    world.server.stop().await
}

#[tokio::test]
async fn evidence_goes_in_and_comes_out_unchanged() -> Result<()> {
    let world = World::new().await?;
    let detail = world.case("楼上漏水纠纷").await?;
    let case = id_of(&detail, "/case/id")?;
    let party = id_of(&detail, "/parties/0/id")?;
    // The smallest PNG there is: signature, IHDR, IDAT, IEND of a 1×1 image.
    let png = hex::decode(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082",
    )?;
    let client = reqwest::Client::new();
    let upload = |bytes: Vec<u8>, name: &'static str| {
        let form = reqwest::multipart::Form::new()
            .text("party_id", party.clone())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        client
            .post(format!(
                "{}/api/v1/cases/{case}/evidence",
                world.server.http_url()
            ))
            .bearer_auth(&world.mediator_a)
            .multipart(form)
            .send()
    };
    let response = upload(png.clone(), "漏水.png").await?;
    ensure!(
        response.status() == StatusCode::CREATED,
        "{}",
        response.status()
    );
    let stored: Value = response.json().await?;
    ensure!(
        stored["media_type"] == "image/png" && stored["party_id"] == json!(party),
        "{stored}"
    );
    let evidence = id_of(&stored, "/id")?;
    let (status, content_type, bytes) = world
        .api
        .get_bytes(
            &format!("/api/v1/cases/{case}/evidence/{evidence}"),
            &world.mediator_a,
        )
        .await?;
    ensure!(
        status == StatusCode::OK && content_type == "image/png" && bytes == png,
        "{status} {content_type}"
    );
    // Another organisation cannot read it.
    let (status, _, _) = world
        .api
        .get_bytes(
            &format!("/api/v1/cases/{case}/evidence/{evidence}"),
            &world.mediator_b,
        )
        .await?;
    ensure!(status == StatusCode::NOT_FOUND, "{status}");
    // A file that is neither photo nor PDF is refused by its content, whatever its name.
    let response = upload(b"#!/bin/sh\necho hi\n".to_vec(), "photo.png").await?;
    ensure!(
        response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        response.status()
    );

    // A representative's power of attorney: a PDF, kept as evidence and named on their record.
    let representative = world
        .api
        .post(
            &format!("/api/v1/cases/{case}/parties"),
            json!({"side": "applicant", "kind": "representative", "name": "王律师", "represents": party}),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::CREATED)?
        .text("id")?;
    let letter =
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
            .to_vec();
    let attach = |who: String, bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("授权委托书.pdf"),
        );
        client
            .post(format!(
                "{}/api/v1/cases/{case}/parties/{who}/attorney-letter",
                world.server.http_url()
            ))
            .bearer_auth(&world.mediator_a)
            .multipart(form)
            .send()
    };
    let response = attach(representative.clone(), letter.clone()).await?;
    ensure!(
        response.status() == StatusCode::CREATED,
        "{}",
        response.status()
    );
    let updated: Value = response.json().await?;
    let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&letter));
    ensure!(updated["attorney_letter"] == json!(expected), "{updated}");
    // Only representatives have one.
    let response = attach(party.clone(), letter).await?;
    ensure!(
        response.status() == StatusCode::CONFLICT,
        "{}",
        response.status()
    );

    let detail = world
        .api
        .get(&format!("/api/v1/cases/{case}"), &world.mediator_a)
        .await?;
    ensure!(
        detail.body["evidence"].as_array().map(Vec::len) == Some(2),
        "{}",
        detail.body
    );
    world.server.stop().await
}
