use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;

use super::*;

fn payload() -> Payload {
    Payload {
        case: CaseId::new("CA_abc"),
        version: 2,
        text_sha256: "ab".repeat(32),
        signer: "PT_xyz".into(),
        time: 1_700_000_000_000,
        nonce: "n0nce".into(),
    }
}

fn device_key() -> (p256::ecdsa::SigningKey, String) {
    use rand::RngCore;
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
            let der = key
                .verifying_key()
                .to_public_key_der()
                .expect("a P-256 key encodes");
            return (key, BASE64.encode(der.as_bytes()));
        }
    }
}

#[test]
fn payload_is_the_exact_string_of_the_contract() {
    let text = payload().to_json();
    assert_eq!(
        text,
        format!(
            r#"{{"case":"CA_abc","version":2,"text_sha256":"{}","signer":"PT_xyz","time":1700000000000,"nonce":"n0nce"}}"#,
            "ab".repeat(32)
        )
    );
    assert_eq!(Payload::parse(&text), Ok(payload()));
}

#[test]
fn payload_in_any_other_form_is_refused() {
    let text = payload().to_json();
    let spaced = text.replace(",\"", ", \"");
    let reordered = text.replace(
        r#"{"case":"CA_abc","version":2"#,
        r#"{"version":2,"case":"CA_abc""#,
    );
    let extra = text.replace("}", r#","more":1}"#);
    for bad in [spaced.as_str(), &reordered, &extra, "", "null", "{}"] {
        assert_eq!(Payload::parse(bad), Err(Rule::ChallengeExpired), "{bad}");
    }
}

#[test]
fn a_webcrypto_style_signature_verifies_with_its_key_only() {
    let (key, spki) = device_key();
    let (_, other) = device_key();
    let text = payload().to_json();
    let signature: p256::ecdsa::Signature = key.sign(text.as_bytes());
    let b64 = BASE64.encode(signature.to_bytes());
    assert_eq!(signature.to_bytes().len(), 64);
    assert_eq!(verify_device_signature(&spki, &text, &b64), Ok(()));
    assert_eq!(
        verify_device_signature(&other, &text, &b64),
        Err(Rule::BadSignature)
    );
    assert_eq!(
        verify_device_signature(&spki, &text.replace("PT_xyz", "PT_xyw"), &b64),
        Err(Rule::BadSignature)
    );
    assert_eq!(
        verify_device_signature(&spki, &text, "not base64!"),
        Err(Rule::BadSignature)
    );
    assert_eq!(
        verify_device_signature("AAAA", &text, &b64),
        Err(Rule::BadSignature)
    );
    assert!(check_device_key(&spki).is_ok());
    assert!(check_device_key("AAAA").is_err());
    assert!(same_device_key(&spki, &format!(" {spki}\n")));
    assert!(!same_device_key(&spki, &other));
}

#[test]
fn codes_are_six_digits() {
    for _ in 0..200 {
        let code = new_code();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
    }
    assert!(constant_time_eq("123456", "123456"));
    assert!(!constant_time_eq("123456", "123457"));
    assert!(!constant_time_eq("123456", "12345"));
}

#[test]
fn names_are_masked_for_strangers() {
    assert_eq!(mask_name("张三"), "张*");
    assert_eq!(mask_name("欧阳娜娜"), "欧***");
    assert_eq!(mask_name("王"), "王*");
    assert_eq!(mask_name("John Smith"), "J*** Smith");
    assert_eq!(mask_name("Mary Ann Lee"), "M*** A*** Lee");
    assert_eq!(mask_name("Madonna"), "M***");
    assert_eq!(mask_name(""), "");
}

#[test]
fn the_seal_verifies_over_the_statement_it_signed() {
    let statement = SealStatement {
        agreement: AgreementId::new("AG_1"),
        case: CaseId::new("CA_1"),
        version: 1,
        text_sha256: "cd".repeat(32),
        signatures: vec![StatementSignature {
            signer: "PT_1".into(),
            signature_sha256: signature_sha256("AAAA"),
            signed_at: 5,
        }],
        effective_at: 9,
        organisation: OrganisationId::new("OR_1"),
        key_id: "SK_1".into(),
    };
    let bytes = statement.bytes();
    assert!(
        String::from_utf8_lossy(&bytes)
            .starts_with(r#"{"agreement":"AG_1","case":"CA_1","version":1,"#)
    );
    let (secret, public) = new_seal_key();
    let signature = seal_sign(&secret, &bytes).expect("signs");
    assert!(verify_seal(&public, &bytes, &signature));
    let mut changed = bytes.clone();
    changed[3] ^= 1;
    assert!(!verify_seal(&public, &changed, &signature));
    let (_, other) = new_seal_key();
    assert!(!verify_seal(&other, &bytes, &signature));
    assert!(!verify_seal("junk", &bytes, &signature));
}
